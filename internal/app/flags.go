package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// UsageError is a command line that a subcommand refuses before doing
// anything: a flag it does not define, a flag value that does not parse,
// or a word left over after its flags.
type UsageError struct {
	// Err says what is wrong, prefixed with the subcommand's name.
	Err error
	// usage prints the subcommand's usage; nil when the error itself says
	// where to find it.
	usage func(w io.Writer)
}

// NewUsageError returns a UsageError for err; usage, when not nil, prints
// the usage that goes with it.
func NewUsageError(err error, usage func(w io.Writer)) *UsageError {
	return &UsageError{Err: err, usage: usage}
}

func (e *UsageError) Error() string { return e.Err.Error() }

func (e *UsageError) Unwrap() error { return e.Err }

// PrintUsage writes the subcommand's usage to w when the error calls for
// it (a flag that does not parse).
func (e *UsageError) PrintUsage(w io.Writer) {
	if e.usage != nil {
		e.usage(w)
	}
}

// ParseFlags parses a subcommand's arguments with fs, whose Usage writes
// to fs.Output(). The flag package itself prints nothing: -h (or -help)
// prints the usage to stdout and returns flag.ErrHelp; a flag that fs does
// not define or whose value does not parse returns a *UsageError that
// prints the usage when asked; a word left over after the flags (flag
// parsing stops at the first one, so the flags after it would be ignored
// too) returns a *UsageError naming it.
func ParseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	usage := fs.Usage
	if usage == nil {
		usage = fs.PrintDefaults
	}
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	printUsage := func(w io.Writer) {
		fs.SetOutput(w)
		usage()
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout)
		return flag.ErrHelp
	case err != nil:
		return NewUsageError(fmt.Errorf("%s: %w", fs.Name(), err), printUsage)
	case fs.NArg() > 0:
		return NewUsageError(leftover(fs, args), nil)
	}
	return nil
}

// leftover describes the first argument fs did not take.
func leftover(fs *flag.FlagSet, args []string) error {
	word := fs.Arg(0)
	name := fs.Name()
	defined := false
	fs.VisitAll(func(*flag.Flag) { defined = true })
	if !defined {
		return fmt.Errorf("%s: unexpected argument %q; it takes no arguments (see %s -h)", name, word, name)
	}
	// The word follows the flags that were parsed: if the one before it is
	// a true-or-false flag, the word was meant as its value.
	if i := len(args) - fs.NArg(); i > 0 {
		prev := strings.TrimLeft(args[i-1], "-")
		if f := fs.Lookup(prev); f != nil && !strings.Contains(prev, "=") && isBoolFlag(f) {
			return fmt.Errorf("%s: unexpected argument %q; a true-or-false flag takes its value as -%s=%s (see %s -h)", name, word, prev, word, name)
		}
	}
	return fmt.Errorf("%s: unexpected argument %q; flags come as -name value (see %s -h)", name, word, name)
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
