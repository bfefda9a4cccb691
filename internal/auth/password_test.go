package auth_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"cartograph/internal/apperr"
	"cartograph/internal/auth"
)

func TestPasswordHashingIsBounded(t *testing.T) {
	hash, err := auth.HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	auth.SetPasswordConcurrency(1, 1)
	t.Cleanup(func() { auth.SetPasswordConcurrency(4, 8) })
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[apperr.Code]int{}
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := auth.VerifyPassword(context.Background(), hash, "correct horse battery staple")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				codes[apperr.CodeOf(err)]++
			} else if ok {
				codes["OK"]++
			}
		}()
	}
	wg.Wait()
	if codes[apperr.Throttled] == 0 || codes["OK"] == 0 || codes["OK"]+codes[apperr.Throttled] != 8 {
		t.Fatalf("8 concurrent hashes with 1 slot and a queue of 1: %v", codes)
	}
}

func TestNormalizeEmail(t *testing.T) {
	for in, want := range map[string]string{
		"  Ada@Example.COM\t": "ada@example.com",
		"ada@example.com":     "ada@example.com",
		"ÉLODIE@EXAMPLE.FR ":  "élodie@example.fr",
	} {
		if got := auth.NormalizeEmail(in); got != want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHashMemoryIsCollected: once the last hash is done, a collection
// runs, so the heap goal drops back from what the hash's 64 MiB made it
// (without it the goal stays above 64 MiB until the next collection).
func TestHashMemoryIsCollected(t *testing.T) {
	hash, err := auth.HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // past the once-a-second bound
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	if ok, err := auth.VerifyPassword(context.Background(), hash, "correct horse battery staple"); !ok || err != nil {
		t.Fatalf("verify: %v %v", ok, err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		var now runtime.MemStats
		runtime.ReadMemStats(&now)
		// The hash's buffer, live when a collection ran during it, made
		// the goal well above 64 MiB; without it the test's heap is small.
		if now.NumGC > before.NumGC && now.NextGC < 32<<20 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no collection after the hash: NumGC %d -> %d, NextGC %d -> %d MB", before.NumGC, now.NumGC, before.NextGC>>20, now.NextGC>>20)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
