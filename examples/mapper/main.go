// Command mapper is a device simulator that speaks KubeEdge's device MQTT contract and nothing else: a
// thermostat that reports its "temperature" twin every --interval and obeys a desired "target" setpoint
// from $hw/events/device/{id}/twin/update/delta (the temperature moves one degree per interval toward
// it; "target" is reported back as its actual value once applied). Run it next to an edge node's
// broker:
//
//	mapper --broker tcp://127.0.0.1:1883 --device default/thermostat --interval 2s
//
// SIGINT or SIGTERM report the device offline and stop it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "mapper:", err)
		os.Exit(2)
	}
}

// run parses args, then runs the thermostat until SIGINT or SIGTERM.
func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("mapper", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg Config
	var debug bool
	fs.StringVar(&cfg.Broker, "broker", DefaultBroker, "MQTT broker URL of the edge node (tcp://host:port)")
	fs.StringVar(&cfg.Device, "device", "", "device id, namespace/name (required): its topics are $hw/events/device/<id>/...")
	fs.DurationVar(&cfg.Interval, "interval", DefaultInterval, "how often the temperature moves and is reported")
	fs.IntVar(&cfg.Temperature, "temperature", DefaultTemperature, "starting temperature, °C")
	fs.StringVar(&cfg.ClientID, "client-id", "", "MQTT client id (default mapper-<namespace>-<name>)")
	fs.BoolVar(&debug, "debug", false, "log every report")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: mapper --device namespace/name [flags]

A simulated thermostat speaking KubeEdge's device MQTT topics. It publishes its "temperature" twin on
$hw/events/device/<id>/twin/update every interval, takes a desired "target" from .../twin/update/delta
(or .../twin/get/result at start), moves the temperature one degree per interval toward it, and reports
"target" back as applied. SIGINT/SIGTERM stop it cleanly.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	th, err := New(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return th.Run(ctx)
}
