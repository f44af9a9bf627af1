package mockserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/refreshmock/refreshmock/scenarios"
)

// errNothingToReload: the server serves the embedded set.
var errNothingToReload = errors.New("the embedded scenarios are served; start with --scenarios DIR to reload from files")

// Reload reads the scenario paths again and, when every file is valid,
// swaps the new set in. On any error the last good set keeps serving; each
// problem is logged with its file:line, and the error lists them too.
func (s *Server) Reload() error {
	if len(s.cfg.ScenarioPaths) == 0 {
		return errNothingToReload
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	sig, _ := signature(s.cfg.ScenarioPaths)
	s.reloadSig = sig
	return s.reloadLocked(context.Background())
}

func (s *Server) reloadLocked(ctx context.Context) error {
	status := reloadStatus{At: s.cfg.Now()}
	defer func() { s.lastReload = status }()
	set, diags, err := scenarios.LoadWithBuiltin(ctx, s.cfg.Spec, s.cfg.ScenarioPaths, s.cfg.ScenarioOptions)
	if ctx.Err() != nil {
		return fmt.Errorf("reload: %w", err)
	}
	if set == nil && diags == nil {
		status.Errors = []string{err.Error()}
		s.log.Error("scenario reload failed; still serving the last good set", "err", err)
		return fmt.Errorf("reload: %w", err)
	}
	if set == nil {
		for _, d := range diags.Errors() {
			status.Errors = append(status.Errors, d.String())
			s.log.Error("invalid scenario; still serving the last good set", "at", d.Pos.String(), "problem", d.String())
		}
		return fmt.Errorf("reload: %w:\n%s", scenarios.ErrInvalid, strings.Join(status.Errors, "\n"))
	}
	for _, d := range diags.Warnings() {
		s.log.Warn("scenario warning", "at", d.Pos.String(), "problem", d.String())
	}
	LogOverrides(s.log, set)
	s.swap(set)
	status.OK = true
	s.log.Info("scenarios reloaded", "scenarios", len(set.All()), "files", len(set.Files()))
	return nil
}

// checkReload reloads when a scenario file was added, removed or changed
// since the last look; it reports whether it tried.
func (s *Server) checkReload(ctx context.Context) bool {
	if len(s.cfg.ScenarioPaths) == 0 {
		return false
	}
	sig, err := signature(s.cfg.ScenarioPaths)
	if err != nil {
		sig = "error: " + err.Error()
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if sig == s.reloadSig {
		return false
	}
	s.reloadSig = sig
	_ = s.reloadLocked(ctx)
	return true
}

// Watch polls the scenario paths every interval until ctx is done and
// reloads on change. Polling (rather than inotify) needs no dependency and
// also sees editors that save by renaming and bind-mounted directories.
func (s *Server) Watch(ctx context.Context, interval time.Duration) {
	if len(s.cfg.ScenarioPaths) == 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.checkReload(ctx)
		}
	}
}

// signature summarises the scenario files' names, sizes and modification
// times.
func signature(paths []string) (string, error) {
	var parts []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		if !info.IsDir() {
			parts = append(parts, fmt.Sprintf("%s|%d|%d", p, info.Size(), info.ModTime().UnixNano()))
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return "", err
		}
		for _, e := range entries {
			if e.IsDir() || !scenarios.IsScenarioFile(e.Name()) {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue
			}
			parts = append(parts, fmt.Sprintf("%s|%d|%d", filepath.Join(p, e.Name()), fi.Size(), fi.ModTime().UnixNano()))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "\n"), nil
}

// LogOverrides logs, one line each, the shipped scenarios that the user's
// files replaced (or took the default role from).
func LogOverrides(log *slog.Logger, set *scenarios.Set) {
	if log == nil {
		return
	}
	for _, o := range set.Overrides() {
		if o.Default {
			log.Info("your default scenario takes over from the shipped default", "shipped", o.Name, "at", o.By.String(), "shipped_at", o.Shipped.String())
			continue
		}
		log.Info("your scenario replaces the shipped one of the same name", "scenario", o.Name, "at", o.By.String(), "shipped_at", o.Shipped.String())
	}
}
