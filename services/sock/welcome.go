package main

import "socketlab/services/welcome"

func init() { commands = append(commands, welcome.ClientCommand()) }
