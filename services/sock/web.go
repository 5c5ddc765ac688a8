package main

import "socketlab/services/web"

func init() { commands = append(commands, web.ClientCommand()) }
