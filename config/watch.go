package config

import (
	"context"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch calls onChange with a freshly loaded and validated config each time
// opts.File changes (editors that replace the file are handled by watching
// its directory), until ctx ends. A config that fails to load is passed as
// err, and the caller keeps serving the old one. Bursts of events within
// debounce are coalesced.
func Watch(ctx context.Context, opts Options, debounce time.Duration, onChange func(*Config, error)) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(opts.File)
	if err != nil {
		w.Close()
		return err
	}
	if err := w.Add(filepath.Dir(abs)); err != nil {
		w.Close()
		return err
	}
	go func() {
		defer w.Close()
		var timer <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) == abs && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
					timer = time.After(debounce)
				}
			case <-w.Errors:
			case <-timer:
				timer = nil
				onChange(Load(opts))
			}
		}
	}()
	return nil
}
