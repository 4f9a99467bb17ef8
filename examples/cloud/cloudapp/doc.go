// Package cloudapp is the assembly of the reference cloud process (command examples/cloud), kept out
// of package main so that end-to-end tests run the whole cloud in-process: Run(ctx, args, stdout,
// stderr) is the process, with its command line, until ctx ends.
//
// The cloud is an explicit list of parts: the CA and join tokens of the data dir (certs.Authority over
// a certs.FileTokenStore in tokens.json, so that `cloud token` in another process issues tokens the running cloud
// accepts), the device CRDs (crds.Ensure), and a beehive.Hive of the cloud hub (hub/cloudhub) and the
// edge controller (controller, module "edgecontroller") wired together — the controller is the hub's
// DesiredState and Bindings, upstream frames go to the controller, downstream changes to the hub —
// plus the HTTPS join endpoint, which registers each node that joins as an edge Node.
//
// Errors wrapping ErrUsage are bad command lines (exit status 2 in main); flag.ErrHelp is --help.
package cloudapp
