package main

import "socketlab/services/chat"

func init() { commands = append(commands, chat.ClientCommand()) }
