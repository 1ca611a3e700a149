package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/castwatch/castwatch/internal/app"
	"github.com/castwatch/castwatch/internal/auth"
	"github.com/castwatch/castwatch/internal/config"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

// withUsers opens (creating if needed) the store for a users command and runs fn with the access-control service.
// Like every writer it fails while `castwatch serve` holds the store; use the web UI's settings page then.
func withUsers(cmd *cobra.Command, g *globals, fn func(*auth.Service) error) error {
	cfg, err := g.load()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	db, err := duckdb.Open(cmd.Context(), app.StorePath(cfg), duckdb.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(auth.NewService(db, auth.Options{}))
}

// passwordFor reads a password from stdin (--password-stdin) or generates one; set stores it and, when it was
// generated, prints it once.
func passwordFor(g *globals, fromStdin bool, stdin io.Reader, set func(pw string) error) error {
	pw, err := readOrGenerate(fromStdin, stdin)
	if err != nil {
		return err
	}
	if err := set(pw); err != nil {
		return err
	}
	if !fromStdin {
		fmt.Fprintf(g.stdout, "password: %s\n(shown only now; store it safely)\n", pw)
	}
	return nil
}

func readOrGenerate(fromStdin bool, stdin io.Reader) (string, error) {
	if !fromStdin {
		return auth.GeneratePassword()
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func usersCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Manage web UI users (viewer, analyst, admin) and REST API tokens",
		Example: `  castwatch users list
  castwatch users add ann@example.com --role analyst             # prints a generated password once
  printf '%s\n' "$PW" | castwatch users add bob --role viewer --password-stdin
  castwatch users passwd admin
  castwatch users role ann@example.com admin
  castwatch users delete bob
  castwatch users token create siem-export --role viewer --expires 90d   # prints the token once
  castwatch users token list
  castwatch users token revoke <id>`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(usersListCmd(g), usersAddCmd(g), usersPasswdCmd(g), usersRoleCmd(g), usersDeleteCmd(g), tokenCmd(g))
	return cmd
}

func usersListCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users and their roles",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			return withUsers(cmd, g, func(s *auth.Service) error {
				us, err := s.Users(cmd.Context())
				if err != nil {
					return err
				}
				rows := make([][]any, len(us))
				for i, u := range us {
					rows[i] = []any{u.Name, string(u.Role), u.Created, u.Updated}
				}
				return writeResult(g.stdout, format, []string{"name", "role", "created", "updated"}, rows)
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}

func usersAddCmd(g *globals) *cobra.Command {
	var role string
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a user (prints a generated password unless --password-stdin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := auth.ParseRole(role)
			if err != nil {
				return err
			}
			return withUsers(cmd, g, func(s *auth.Service) error {
				if err := passwordFor(g, fromStdin, cmd.InOrStdin(), func(pw string) error {
					return s.AddUser(cmd.Context(), args[0], r, pw)
				}); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "added user %s (%s)\n", strings.ToLower(args[0]), r)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&role, "role", string(auth.RoleViewer), "viewer, analyst or admin")
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin")
	return cmd
}

func usersPasswdCmd(g *globals) *cobra.Command {
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a user's password (prints a generated one unless --password-stdin) and end its sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withUsers(cmd, g, func(s *auth.Service) error {
				if err := passwordFor(g, fromStdin, cmd.InOrStdin(), func(pw string) error {
					return s.SetPassword(cmd.Context(), args[0], pw)
				}); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "password of %s changed\n", strings.ToLower(args[0]))
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin")
	return cmd
}

func usersRoleCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "role NAME ROLE",
		Short: "Change a user's role (viewer, analyst or admin)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := auth.ParseRole(args[1])
			if err != nil {
				return err
			}
			return withUsers(cmd, g, func(s *auth.Service) error {
				if err := s.SetRole(cmd.Context(), args[0], r); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "%s is now %s\n", strings.ToLower(args[0]), r)
				return nil
			})
		},
	}
}

func usersDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a user and end its sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withUsers(cmd, g, func(s *auth.Service) error {
				if err := s.DeleteUser(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "deleted user %s\n", strings.ToLower(args[0]))
				return nil
			})
		},
	}
}

func tokenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage REST API tokens (Authorization: Bearer cw_…)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(tokenCreateCmd(g), tokenListCmd(g), tokenRevokeCmd(g))
	return cmd
}

func tokenCreateCmd(g *globals) *cobra.Command {
	var role, expires string
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an API token and print it once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := auth.ParseRole(role)
			if err != nil {
				return err
			}
			var ttl time.Duration
			if expires != "" {
				if ttl, err = config.ParseDuration(expires); err != nil || ttl <= 0 {
					return fmt.Errorf("--expires %q: must be a positive duration such as 90d", expires)
				}
			}
			return withUsers(cmd, g, func(s *auth.Service) error {
				token, t, err := s.CreateToken(cmd.Context(), args[0], r, ttl, "cli")
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "token %s (id %s, %s): %s\n(shown only now; send it as \"Authorization: Bearer <token>\")\n",
					t.Name, t.ID, t.Role, token)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&role, "role", string(auth.RoleViewer), "viewer, analyst or admin")
	cmd.Flags().StringVar(&expires, "expires", "", "lifetime, e.g. 90d (default: no expiry)")
	return cmd
}

func tokenListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List API tokens (never the tokens themselves)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withUsers(cmd, g, func(s *auth.Service) error {
				ts, err := s.Tokens(cmd.Context())
				if err != nil {
					return err
				}
				rows := make([][]any, len(ts))
				for i, t := range ts {
					rows[i] = []any{t.ID, t.Name, string(t.Role), t.Created, optTime(t.LastUsed), optTime(t.Expires), t.CreatedBy}
				}
				return writeResult(g.stdout, "table", []string{"id", "name", "role", "created", "last_used", "expires", "created_by"}, rows)
			})
		},
	}
}

// optTime is nil for the zero time, so tables show an empty cell.
func optTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func tokenRevokeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token by id",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withUsers(cmd, g, func(s *auth.Service) error {
				if err := s.RevokeToken(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "revoked token %s\n", args[0])
				return nil
			})
		},
	}
}

// printFirstAdmin creates the first admin on a store without users (serve) and, when its password was generated,
// prints it once to stderr.
func printFirstAdmin(cmd *cobra.Command, g *globals, a *app.App) error {
	created, pw, err := a.EnsureAdmin(cmd.Context())
	if err != nil || !created {
		return err
	}
	if pw == "" {
		fmt.Fprintf(g.stderr, "castwatch: created the first admin user %q with the password from CASTWATCH_ADMIN_PASSWORD\n", auth.AdminUser)
		return nil
	}
	fmt.Fprintf(g.stderr, "\n"+
		"==================================================================\n"+
		" castwatch: created the first admin user. This is shown ONCE only.\n"+
		"   user:     %s\n"+
		"   password: %s\n"+
		" Change it later with `castwatch users passwd %s` (serve stopped).\n"+
		"==================================================================\n\n",
		auth.AdminUser, pw, auth.AdminUser)
	return nil
}

// demoLogin creates the demo's admin (the demo always starts from a fresh store) and returns the line that tells
// how to log in.
func demoLogin(ctx context.Context, a *app.App) (string, error) {
	created, pw, err := a.EnsureAdmin(ctx)
	if err != nil {
		return "", err
	}
	if !created || pw == "" {
		return fmt.Sprintf("log in as %s", auth.AdminUser), nil
	}
	return fmt.Sprintf("log in as user %s with password %s", auth.AdminUser, pw), nil
}
