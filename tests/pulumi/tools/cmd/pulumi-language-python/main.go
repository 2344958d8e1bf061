// Command pulumi-language-python is a minimal Pulumi language host for Python, written for the
// Trunkline end-to-end tests because Pulumi's own host (a separate Go module) is not served by the
// Go module proxy. It does what `pulumi up/preview/refresh/destroy` need from a language host:
// run the program with the SDK's `pulumi-language-python-exec` script (installed beside this
// binary by tests/pulumi/build.sh) under the project's Python, chosen like Pulumi's host does:
// the `virtualenv` runtime option (relative to the project root), else $PULUMI_PYTHON_CMD, else
// python3. It installs no dependencies and reports no required plugins (the dynamic provider
// plugin `pulumi-python` is found on PATH when the program registers a dynamic resource).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc"
	pbempty "google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Exit status with which pulumi-language-python-exec says it already showed the user the error.
const bailExitCode = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu         sync.Mutex
	engine     string
	root       string
	virtualenv string // -virtualenv flag (older engines pass runtime options as flags)
	execScript string
}

func main() {
	flags := flag.NewFlagSet("pulumi-language-python", flag.ContinueOnError)
	flags.Bool("logtostderr", false, "log to stderr")
	flags.Bool("logflow", false, "flow logging to plugins")
	flags.Int("v", 0, "verbosity")
	flags.String("tracing", "", "tracing endpoint")
	root := flags.String("root", "", "project root directory")
	virtualenv := flags.String("virtualenv", "", "virtual environment directory")
	flags.String("toolchain", "", "Python toolchain")
	flags.String("typechecker", "", "type checker")
	flags.Bool("use-language-version-tools", false, "use pyenv")
	if err := flags.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	h := &host{root: *root, virtualenv: *virtualenv}
	if args := flags.Args(); len(args) > 0 {
		h.engine = args[len(args)-1]
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
		os.Exit(1)
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	h.execScript = filepath.Join(filepath.Dir(self), "pulumi-language-python-exec")

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-python: serving: %v\n", err)
		os.Exit(1)
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
		os.Exit(1)
	}
}

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.engine = req.GetEngineAddress()
	if req.RootDirectory != nil {
		h.root = req.GetRootDirectory()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *pbempty.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *host) GetProgramDependencies(context.Context, *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return &pulumirpc.GetProgramDependenciesResponse{}, nil
}

func (h *host) RuntimeOptionsPrompts(context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

// InstallDependencies installs nothing: the tests run programs in an existing virtualenv.
func (h *host) InstallDependencies(*pulumirpc.InstallDependenciesRequest,
	grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	return nil
}

func (h *host) About(_ context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	python := h.python(req.GetInfo())
	out, err := exec.Command(python, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --version: %w", python, err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "Python ")
	return &pulumirpc.AboutResponse{Executable: python, Version: v}, nil
}

func (h *host) Cancel(context.Context, *pbempty.Empty) (*pbempty.Empty, error) {
	return &pbempty.Empty{}, nil
}

// virtualenvDir is the virtual environment the program runs in, or "" for none.
func (h *host) virtualenvDir(info *pulumirpc.ProgramInfo) string {
	h.mu.Lock()
	venv, root := h.virtualenv, h.root
	h.mu.Unlock()
	if info != nil {
		if info.GetRootDirectory() != "" {
			root = info.GetRootDirectory()
		}
		if opts := info.GetOptions(); opts != nil {
			if v, ok := opts.AsMap()["virtualenv"].(string); ok && v != "" {
				venv = v
			}
		}
	}
	if venv == "" {
		return ""
	}
	if !filepath.IsAbs(venv) && root != "" {
		venv = filepath.Join(root, venv)
	}
	return venv
}

func (h *host) python(info *pulumirpc.ProgramInfo) string {
	if venv := h.virtualenvDir(info); venv != "" {
		return filepath.Join(venv, "bin", "python")
	}
	if cmd := os.Getenv("PULUMI_PYTHON_CMD"); cmd != "" {
		return cmd
	}
	return "python3"
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	python := h.python(info)

	program, pwd := req.GetProgram(), req.GetPwd()
	if info != nil {
		if info.GetEntryPoint() != "" {
			program = info.GetEntryPoint()
		}
		if info.GetProgramDirectory() != "" {
			pwd = info.GetProgramDirectory()
		}
	}
	if program == "" {
		program = "."
	}

	h.mu.Lock()
	engine := h.engine
	h.mu.Unlock()
	args := []string{"-u", h.execScript,
		"--monitor", req.GetMonitorAddress(),
		"--engine", engine,
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--pwd", pwd,
		"--dry_run", strconv.FormatBool(req.GetDryRun()),
		"--parallel", strconv.Itoa(int(req.GetParallel())),
	}
	if req.GetOrganization() != "" {
		args = append(args, "--organization", req.GetOrganization())
	}
	if info != nil && info.GetRootDirectory() != "" {
		args = append(args, "--root_directory", info.GetRootDirectory())
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	env := os.Environ()
	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	env = append(env, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretJSON))
	if venv := h.virtualenvDir(info); venv != "" {
		env = append(env, "VIRTUAL_ENV="+venv, "PATH="+filepath.Join(venv, "bin")+
			string(os.PathListSeparator)+os.Getenv("PATH"))
	}

	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Dir = pwd
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if exit.ExitCode() == bailExitCode {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d",
				exit.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("running %s: %v", python, err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}
