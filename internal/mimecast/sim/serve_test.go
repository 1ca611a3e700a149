package sim

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestServeUntilCancelled(t *testing.T) {
	s := mustSim(t, Options{Seed: 1, Mailboxes: 5, Days: 1})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()

	resp, err := http.Post("http://"+ln.Addr().String()+"/oauth/token", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("empty token request: status %d, want 400", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve returned %v after cancel, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

func TestListenAndServeBadAddress(t *testing.T) {
	s := mustSim(t, Options{Seed: 1, Mailboxes: 5, Days: 1})
	if err := s.ListenAndServe(context.Background(), "256.0.0.1:99999"); err == nil {
		t.Error("ListenAndServe on an invalid address succeeded")
	}
}
