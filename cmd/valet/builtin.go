package main

import (
	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/azure"
	"github.com/valetgw/valet/providers/gcs"
	"github.com/valetgw/valet/providers/local"
	"github.com/valetgw/valet/providers/s3"
)

// builtins are the providers compiled into the valet binary. Each one runs
// out of process, as `valet plugin serve NAME`, like any external plugin.
// Adding a provider is one line here.
var builtins = map[string]func() providers.Provider{
	"azure": azure.New,
	"gcs":   gcs.New,
	"local": local.New,
	"s3":    s3.New,
	"minio": s3.NewMinIO,
}
