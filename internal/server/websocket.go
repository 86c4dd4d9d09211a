package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/rs/zerolog"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/kivalogic/helpscout-log/internal/apperr"
	"github.com/kivalogic/helpscout-log/internal/auth"
)

// closeUnauthenticated is the WebSocket close code for a connection_init
// whose token is refused (4401, by analogy with HTTP 401).
const closeUnauthenticated = 4401

// websocketTransport serves subscriptions over WebSocket, in both the
// graphql-transport-ws and the legacy graphql-ws subprotocols. The
// browser's Origin must be the server's own or one of the allowed
// origins. The client authenticates in connection_init. The load it
// returns counts the frames and writes of its connections.
func websocketTransport(opts GraphQLOptions, log zerolog.Logger) (transport.Websocket, *writeLoad) {
	keepAlive := opts.KeepAlive
	if keepAlive <= 0 {
		keepAlive = 15 * time.Second
	}
	initTimeout := opts.InitTimeout
	if initTimeout <= 0 {
		initTimeout = 10 * time.Second
	}
	busyRate := opts.BusyRate
	if busyRate <= 0 {
		busyRate = DefaultBusyRate
	}
	load := &writeLoad{rate: busyRate}
	return transport.Websocket{
		Implementation: wsImplementation{
			accept:      websocket.AcceptOptions{OriginPatterns: opts.AllowedOrigins},
			interval:    opts.WriteInterval,
			load:        load,
			wheel:       &pacer{},
			initTimeout: initTimeout,
			draining:    opts.Draining,
			open:        opts.Open,
		},
		InitFunc: wsInit(opts.Issuer),
		// The connection closes itself at initTimeout, with the code the
		// protocol gives (see wsConn.check); this is a backstop.
		InitTimeout:           initTimeout + time.Second,
		KeepAlivePingInterval: keepAlive,
		PingPongInterval:      keepAlive,
		ErrorFunc: func(ctx context.Context, err error) {
			if !errors.Is(err, context.Canceled) {
				log.Debug().Err(err).Msg("websocket error")
			}
		},
	}, load
}

// wsKey marks the context of a WebSocket connection.
type wsKey struct{}

// overWebSocket reports whether ctx belongs to an operation on a WebSocket.
func overWebSocket(ctx context.Context) bool { return ctx.Value(wsKey{}) != nil }

// wsToken returns the bearer token of a connection_init payload:
// Authorization or authorization, at the top or under headers. The
// "Bearer " prefix is optional.
func wsToken(p transport.InitPayload) string {
	raw := p.Authorization()
	if raw == "" {
		if h, ok := p["headers"].(map[string]any); ok {
			raw = transport.InitPayload(h).Authorization()
		}
	}
	raw = strings.TrimSpace(raw)
	if len(raw) > 7 && strings.EqualFold(raw[:7], "bearer ") {
		raw = strings.TrimSpace(raw[7:])
	}
	return raw
}

// wsInit authenticates a WebSocket connection from its connection_init
// payload. Without a token the connection stays anonymous (or keeps the
// caller of the upgrade request), so that guarded fields answer
// UNAUTHENTICATED; a token that does not verify closes the connection
// with code 4401 and the reason.
func wsInit(issuer *auth.Issuer) transport.WebsocketInitFunc {
	return func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		ctx = context.WithValue(ctx, wsKey{}, true)
		tok := wsToken(p)
		if tok == "" {
			return ctx, nil, nil
		}
		var (
			c   *auth.Caller
			err = errors.New("this server accepts no token over WebSocket")
		)
		if issuer != nil {
			c, err = issuer.Verify(tok)
		}
		if err != nil {
			reason := "UNAUTHENTICATED: the bearer token is invalid"
			if strings.Contains(err.Error(), "expired") {
				reason = "UNAUTHENTICATED: the bearer token has expired"
			}
			ctx = transport.WithWebsocketCloseCode(transport.AppendCloseReason(ctx, reason), closeUnauthenticated)
			return ctx, nil, errors.New(reason)
		}
		return auth.WithCaller(ctx, c), nil, nil
	}
}

// refuseExpiredTokens refuses operations of a caller whose token has
// expired since it was verified, as happens on a long-lived WebSocket.
// Running subscriptions end at expiry on their own (live.UntilTokenExpires).
func refuseExpiredTokens(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if c, err := auth.CallerFrom(ctx); err == nil && !c.ExpiresAt.IsZero() && !time.Now().Before(c.ExpiresAt) {
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
			Message:    fmt.Sprintf("your token expired at %s; reconnect with a new token", c.ExpiresAt.UTC().Format(time.RFC3339)),
			Extensions: map[string]any{"code": string(apperr.Unauthenticated)},
		}}})
	}
	return next(ctx)
}
