package integration

import (
	"os"
	"testing"

	"socketlab/internal/labtest"
)

func TestMain(m *testing.M) { os.Exit(labtest.Main(m, "it")) }
