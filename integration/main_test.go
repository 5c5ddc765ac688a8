package integration

import (
	"os"
	"testing"

	"socketlab/internal/labtest"
)

func TestMain(m *testing.M) {
	code := labtest.Main(m, "it")
	if dir, err := labctlDir(); err == nil {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}
