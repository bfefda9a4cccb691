package auth_test

import (
	"context"
	"sync"
	"testing"

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
