package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"labctl/lab"
)

func seatsCommand() *cli.Command {
	return &cli.Command{
		Name:  "seats",
		Usage: "print a classroom's seats: each student's addresses, VIP, VRRP id and names",
		Description: "One lab.toml for a whole room: seat N moves every address of the lab up by N x 8 and\n" +
			"suffixes the lab and VM names, so the students' labs never share an address, a VM name or a\n" +
			"VRRP id. seats checks every address of every seat and refuses a room that does not fit the network.\n" +
			"A student then runs `labctl --seat N up`.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "count", Value: 0, Usage: "how many seats (students) the room has, `N` (1-254)"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Before: needsSession,
		Action: func(c *cli.Context) error {
			s := sessionOf(c)
			if !c.IsSet("count") {
				return cli.Exit("seats needs --count N, the number of students in the room, e.g. `labctl seats --count 30`", exitUsage)
			}
			room, err := s.cfg.Room(s.hostNet, c.Int("count"))
			if err != nil {
				var se *lab.SeatError
				if errors.As(err, &se) {
					return cli.Exit(err.Error(), exitFailed)
				}
				return cli.Exit(err.Error(), exitUsage)
			}
			if c.Bool("json") {
				return room.JSON(s.out)
			}
			room.Print(s.out)
			return nil
		},
	}
}
