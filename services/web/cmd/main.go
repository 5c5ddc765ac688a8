// Command web serves the seed 000 web site; see package web.
package main

import (
	"socketlab/services/internal/service"
	"socketlab/services/web"
)

func main() { service.Main(web.Spec()) }
