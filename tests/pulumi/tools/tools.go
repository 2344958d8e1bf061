//go:build tools

// Package tools records the programs this module exists to build, so `go mod tidy` keeps their
// dependencies. Build them with tests/pulumi/build.sh, not `go build` here.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
