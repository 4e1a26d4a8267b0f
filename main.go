// Command labctl builds a high-availability WordPress lab in VirtualBox:
// three MySQL group-replication nodes behind a keepalived VIP, two
// nginx + php-fpm WordPress nodes and an nginx load balancer, from one
// AlmaLinux base VM, with one command.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"labctl/internal/cliargs"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// run builds the app with injected streams so tests can drive it, and
// turns the first Ctrl-C into a clean cancellation (a second one kills).
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore default handling: a second Ctrl-C ends the process at once
	}()

	app := newApp(stdin, stdout, stderr)
	err := app.RunContext(ctx, cliargs.Normalize(args))
	if err == nil {
		return 0
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := ec.Error(); msg != "" {
			fmt.Fprintln(stderr, "labctl:", msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(stderr, "labctl:", err)
	return 1
}
