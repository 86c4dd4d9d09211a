package server

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/rs/zerolog"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/kivalogic/helpscout-log/db"
	"github.com/kivalogic/helpscout-log/internal/apperr"
)

// isInfrastructure reports whether err comes from the database, the network
// or a timeout rather than from what the client sent.
func isInfrastructure(err error) bool {
	var pgErr pgdriver.Error
	var netErr net.Error
	return errors.As(err, &pgErr) || errors.As(err, &netErr) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded)
}

// errorPresenter maps every error to a client-safe message with an
// extensions.code. Application errors keep their message; a database that
// cannot be reached is UNAVAILABLE (try again shortly), a query cancelled
// by the statement timeout TIMEOUT (ask for less), other database and
// network failures INTERNAL, all logged with their cause and shown with
// the request id; gqlgen's own input errors are BAD_USER_INPUT.
func errorPresenter(log zerolog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		if gqlErr.Extensions == nil {
			gqlErr.Extensions = map[string]any{}
		}
		if db.Unreachable(err) {
			if ae, ok := apperr.As(err); !ok || ae.Code == apperr.Internal {
				logInternal(ctx, log, err)
				gqlErr.Message = apperr.DatabaseUnavailable(middleware.GetReqID(ctx), err).Message
				gqlErr.Extensions["code"] = string(apperr.Unavailable)
				return gqlErr
			}
		}
		if db.TimedOut(err) {
			if ae, ok := apperr.As(err); !ok || ae.Code == apperr.Internal {
				ev := log.Warn().Err(err).Str("request_id", middleware.GetReqID(ctx))
				if fc := graphql.GetFieldContext(ctx); fc != nil {
					ev = ev.Str("path", fc.Path().String())
				}
				ev.Msg("graphql query ran past the statement timeout")
				gqlErr.Message = apperr.QueryTimeout(middleware.GetReqID(ctx), err).Message
				gqlErr.Extensions["code"] = string(apperr.Timeout)
				return gqlErr
			}
		}
		if ae, ok := apperr.As(err); ok {
			gqlErr.Message = ae.Message
			gqlErr.Extensions["code"] = string(ae.Code)
			if ae.Argument != "" {
				gqlErr.Extensions["argument"] = ae.Argument
			}
			if ae.Code == apperr.Internal {
				logInternal(ctx, log, err)
				gqlErr.Message = internalMessage(ctx)
			}
			return gqlErr
		}
		if code, ok := gqlErr.Extensions["code"]; ok {
			if code == errcode.ValidationFailed && isBadValue(gqlErr) {
				// A wrong value (an unknown enum, a string for an Int, a
				// variable that does not coerce) is the caller's input
				// mistake, not a malformed document.
				gqlErr.Extensions["code"] = string(apperr.BadUserInput)
				switch {
				case len(gqlErr.Path) >= 2 && gqlErr.Path[0] == ast.PathName("variable"):
					arg := "$" + pathString(gqlErr.Path[1:])
					gqlErr.Extensions["argument"] = arg
					gqlErr.Message = variableMessage(arg, gqlErr.Message)
				case len(gqlErr.Locations) == 1 && graphql.HasOperationContext(ctx):
					// A value written in the document: name the argument
					// that holds it.
					loc := gqlErr.Locations[0]
					if arg := literalArgument(graphql.GetOperationContext(ctx).RawQuery, loc.Line, loc.Column); arg != "" {
						gqlErr.Extensions["argument"] = arg
						gqlErr.Message = arg + ": " + gqlErr.Message
					}
				}
			}
			return gqlErr
		}
		if errors.Is(err, context.Canceled) {
			gqlErr.Message = "the request was cancelled"
			gqlErr.Extensions["code"] = "CANCELLED"
			return gqlErr
		}
		if gqlErr.Message == "introspection disabled" {
			gqlErr.Message = "introspection is disabled on this server"
			gqlErr.Extensions["code"] = string(apperr.Forbidden)
			return gqlErr
		}
		if !isInfrastructure(err) && isArgumentError(ctx, gqlErr) {
			// gqlgen could not coerce an argument value: the path runs
			// past the field into the argument.
			gqlErr.Extensions["code"] = string(apperr.BadUserInput)
			if fc := graphql.GetFieldContext(ctx); fc != nil && len(gqlErr.Path) > len(fc.Path()) {
				arg := pathString(gqlErr.Path[len(fc.Path()):])
				gqlErr.Extensions["argument"] = arg
				if !strings.HasPrefix(gqlErr.Message, arg) {
					gqlErr.Message = arg + ": " + gqlErr.Message
				}
			}
			return gqlErr
		}
		logInternal(ctx, log, err)
		gqlErr.Message = internalMessage(ctx)
		gqlErr.Extensions["code"] = string(apperr.Internal)
		return gqlErr
	}
}

// literalArgument returns the path of the argument value written at line
// and column of the document query ("filter.types[0]"), or "" when no
// argument value starts there. The document is parsed again, without
// validation: this runs only for a document refused for such a value.
func literalArgument(query string, line, column int) string {
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		return ""
	}
	var inValue func(v *ast.Value, path string) string
	inValue = func(v *ast.Value, path string) string {
		if v == nil {
			return ""
		}
		if v.Position != nil && v.Position.Line == line && v.Position.Column == column {
			return path
		}
		for i, c := range v.Children {
			p := fmt.Sprintf("%s[%d]", path, i)
			if v.Kind == ast.ObjectValue {
				p = path + "." + c.Name
			}
			if found := inValue(c.Value, p); found != "" {
				return found
			}
		}
		return ""
	}
	var inSet func(set ast.SelectionSet) string
	inSet = func(set ast.SelectionSet) string {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				for _, arg := range s.Arguments {
					if found := inValue(arg.Value, arg.Name); found != "" {
						return found
					}
				}
				if found := inSet(s.SelectionSet); found != "" {
					return found
				}
			case *ast.InlineFragment:
				if found := inSet(s.SelectionSet); found != "" {
					return found
				}
			}
		}
		return ""
	}
	for _, op := range doc.Operations {
		if found := inSet(op.SelectionSet); found != "" {
			return found
		}
	}
	for _, f := range doc.Fragments {
		if found := inSet(f.SelectionSet); found != "" {
			return found
		}
	}
	return ""
}

// variableMessage restates the validator's message about the value of a
// variable in the client's terms, after the variable's name: the validator
// speaks of Go's kinds ("cannot use string as Int", "not a slice").
func variableMessage(arg, msg string) string {
	switch {
	case msg == "must be defined":
		return arg + ": a value is required"
	case strings.HasPrefix(msg, "cannot use ") && strings.Contains(msg, " as "):
		typ := msg[strings.LastIndex(msg, " as ")+len(" as "):]
		if typ == "Int" {
			return arg + ": must be an Int, a whole number"
		}
		return arg + ": must be " + article(typ) + " " + typ
	case strings.HasPrefix(msg, "must be a ") && strings.Contains(msg, ", not a "):
		typ := strings.TrimPrefix(msg[:strings.Index(msg, ", not a ")], "must be a ")
		return arg + ": must be " + article(typ) + " " + typ + " object"
	}
	return arg + ": " + msg
}

// article is "an" before a vowel, else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("AEIOUaeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// isArgumentError reports whether e is gqlgen's own error about an input
// value: one raised outside any field (the operation) or one whose path
// runs past the current field into its arguments.
func isArgumentError(ctx context.Context, e *gqlerror.Error) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return true
	}
	return len(e.Path) > len(fc.Path())
}

// pathString renders an argument path such as filter.from or types[0].
func pathString(p ast.Path) string {
	var b strings.Builder
	for _, el := range p {
		switch el := el.(type) {
		case ast.PathIndex:
			fmt.Fprintf(&b, "[%d]", int(el))
		case ast.PathName:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(string(el))
		}
	}
	return b.String()
}

// isBadValue reports whether a validation error is about a value rather
// than the shape of the document.
func isBadValue(e *gqlerror.Error) bool {
	if len(e.Path) > 0 && e.Path[0] == ast.PathName("variable") {
		return true
	}
	for _, marker := range []string{"does not exist in", "Expected value of type", "cannot represent", "is not a valid"} {
		if strings.Contains(e.Message, marker) {
			return true
		}
	}
	return false
}

func internalMessage(ctx context.Context) string {
	if id := middleware.GetReqID(ctx); id != "" {
		return "internal error; quote request id " + id + " to support"
	}
	return "internal error"
}

func logInternal(ctx context.Context, log zerolog.Logger, err error) {
	ev := log.Error().Err(err).Str("request_id", middleware.GetReqID(ctx))
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		ev = ev.Str("path", fc.Path().String())
	}
	ev.Msg("graphql internal error")
}

// recoverFunc turns a panic in a resolver into an INTERNAL error and logs
// it; the client never sees the panic value or a stack trace.
func recoverFunc(log zerolog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.Error().Interface("panic", p).Str("request_id", middleware.GetReqID(ctx)).Stack().Msg("panic in resolver")
		return &apperr.Error{Code: apperr.Internal, Message: "internal error"}
	}
}
