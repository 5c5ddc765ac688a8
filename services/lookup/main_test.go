package lookup

import (
	"os"
	"testing"

	"socketlab/services/internal/svctest"
)

func TestMain(m *testing.M) { os.Exit(svctest.Main(m)) }
