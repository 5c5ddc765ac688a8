package service

import (
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/pflag"
)

// IntVarEnv registers an integer flag whose default is taken from the
// environment variable env when it is set (as PORT is for --port), so that
// a container's limits can be set without changing its command. The
// returned function reports an env value that is not a whole number of at
// least min, unless the flag was given; call it from Spec.Start.
func IntVarEnv(fs *pflag.FlagSet, p *int, name, env string, def, min int, usage string) (check func() error) {
	var envErr error
	if v, ok := os.LookupEnv(env); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			envErr = fmt.Errorf("environment %s=%q is not a whole number of at least %d; unset it or pass --%s", env, v, min, name)
		} else {
			def = n
		}
	}
	fs.IntVar(p, name, def, usage+" (env "+env+")")
	return func() error {
		if envErr != nil && !fs.Changed(name) {
			return envErr
		}
		if *p < min {
			return fmt.Errorf("--%s %d: want %d or more", name, *p, min)
		}
		return nil
	}
}
