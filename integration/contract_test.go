package integration

import (
	"socketlab/labctl/check"
	"socketlab/labctl/lab"
)

// The steps runner drives a lab through its Lab interface; the engine's Lab
// is what it gets in labctl and in these tests.
var _ check.Lab = (*lab.Lab)(nil)
