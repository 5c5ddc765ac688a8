package svctest

import (
	"bytes"
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"socketlab/services/internal/probe"
)

// RunCommand runs a sock sub-command in process with args, and stdin as its
// standard input. It returns what the command wrote to stdout and stderr and
// the exit status sock would end with: the code of a probe.ExitError, or 2
// for any other error (a flag or argument error), which then ends stderr as
// sock prints it.
func RunCommand(cmd *cobra.Command, stdin string, args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	var ee probe.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.Code
	default:
		code = 2
		errb.WriteString("sock: " + err.Error() + "\n")
	}
	return out.String(), errb.String(), code
}
