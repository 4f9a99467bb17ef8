package beehive_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/edgehive/edgehive/beehive"
)

// Two modules: "twin" asks "meta" for a device with SendSync and tells "meta" of an update with Send;
// "meta" answers queries and reports what it was told. The hive stops when the work is done.
func Example() {
	hive, err := beehive.New(beehive.Config{Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		panic(err)
	}
	ctx, stop := context.WithCancel(context.Background())

	meta := &beehive.ModuleFunc{ModuleName: "meta", ModuleGroup: beehive.GroupMeta,
		Fn: func(ctx context.Context, c *beehive.Context) error {
			for {
				m, err := c.Receive(ctx)
				if err != nil {
					return nil // the hive is stopping
				}
				switch m.Router.Operation {
				case beehive.OpQuery:
					_ = c.Respond(m, "thermostat, target 21")
				case beehive.OpUpdate:
					fmt.Printf("meta: %s sent %s %s = %v\n", m.Router.Source, m.Router.Operation, m.Router.Resource, m.Content)
					stop()
				}
			}
		}}
	twin := &beehive.ModuleFunc{ModuleName: "twin", ModuleGroup: beehive.GroupTwin,
		Fn: func(ctx context.Context, c *beehive.Context) error {
			resp, err := c.SendSync(ctx, "meta", c.NewMessage(beehive.GroupMeta, beehive.OpQuery, "default/device/thermo-1", nil))
			if err != nil {
				return err
			}
			fmt.Println("twin: meta answered:", resp.Content)
			if err := c.Send(ctx, "meta", c.NewMessage(beehive.GroupMeta, beehive.OpUpdate, "default/device/thermo-1", 22)); err != nil {
				return err
			}
			<-ctx.Done()
			return nil
		}}
	for _, m := range []beehive.Module{meta, twin} {
		if err := hive.Add(m); err != nil {
			panic(err)
		}
	}
	if err := hive.Run(ctx); err != nil {
		panic(err)
	}
	// Output:
	// twin: meta answered: thermostat, target 21
	// meta: twin sent update default/device/thermo-1 = 22
}
