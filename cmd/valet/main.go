// Command valet is the Valet storage gateway: one binary that serves the
// HTTP API, runs the built-in provider plugins (`valet plugin serve NAME`),
// and carries the operator's tools (token, config check, presign).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the CLI and returns the process exit code. Errors go to
// stderr, prefixed with "valet:", and give exit code 1 (2 for usage errors).
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(stderr, "valet:", err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

// usageError marks an error in how the command was called, not in what it did.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }
