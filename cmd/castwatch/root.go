package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/castwatch/castwatch/internal/config"
	"github.com/castwatch/castwatch/internal/version"
)

// errSilent marks an error that has already been reported to the user.
var errSilent = errors.New("reported")

// globals are the flags every command shares.
type globals struct {
	configFile string
	dataDir    string
	logLevel   string
	stdout     io.Writer
	stderr     io.Writer
}

// load reads the configuration (defaults → file → environment → flags).
func (g *globals) load() (config.Config, error) {
	cfg, err := config.Load(g.configFile, nil)
	if err != nil {
		return config.Config{}, err
	}
	if g.dataDir != "" {
		cfg.DataDir = g.dataDir
	}
	if g.logLevel != "" {
		cfg.LogLevel = g.logLevel
		if err := cfg.Validate(); err != nil {
			return config.Config{}, err
		}
	}
	return cfg, nil
}

// logger returns a text logger on stderr at the configured level.
func (g *globals) logger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: l}))
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "castwatch",
		Short:         "Mimecast security analytics: collect, store, detect, dashboards",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.configFile, "config", os.Getenv("CASTWATCH_CONFIG"), "YAML configuration file (env CASTWATCH_CONFIG)")
	pf.StringVar(&g.dataDir, "data-dir", "", "data directory (env CASTWATCH_DATA_DIR, default ./castwatch-data)")
	pf.StringVar(&g.logLevel, "log-level", "", "debug, info, warn or error (env CASTWATCH_LOG_LEVEL, default info)")

	root.AddCommand(
		versionCmd(g),
		simulateCmd(g),
		syncCmd(g),
		queryCmd(g),
		alertsCmd(g),
		incidentsCmd(g),
		serveCmd(g),
		demoCmd(g),
		parseCmd(g),
		ingestCmd(g),
		detectCmd(g),
		rulesCmd(g),
		benchCmd(g),
		statusCmd(g),
		usersCmd(g),
	)
	return root
}

func versionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the castwatch version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(g.stdout, "castwatch %s (%s, %s/%s)\n", version.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
