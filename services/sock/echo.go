package main

import "socketlab/services/echo"

func init() { commands = append(commands, echo.ClientCommand()) }
