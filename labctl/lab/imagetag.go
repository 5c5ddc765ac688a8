package lab

// ImageTag is the tag the engine runs socketlab images with (WithImageTag,
// else images.DefaultTag); helpers such as socketlab/capture use it too.
func (e *Engine) ImageTag() string { return e.o.tag }
