//go:build tools

// Package tools records the programs this module exists to build, so `go mod tidy` keeps their
// dependencies. Build them with tests/k8s/build.sh, not `go build` here.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
