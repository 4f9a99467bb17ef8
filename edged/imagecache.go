package edged

import (
	"context"
	"sync"
	"time"
)

// imageStatusTTL is how long a present image's ID is taken from the cache instead of asking the
// runtime's ImageStatus again. It only spares the calls of pods that start together (a burst of pods of
// one image asks once); an image removed meanwhile makes CreateContainer fail, which drops the entry,
// and the pod's next sync asks again (and pulls as its policy says).
const imageStatusTTL = 2 * time.Second

// imageCache remembers the runtime's ID of present images for imageStatusTTL, and makes concurrent
// lookups of one image share one call. It is safe for concurrent use.
type imageCache struct {
	mu      sync.Mutex
	entries map[string]*imageEntry // by image as the pod names it
}

type imageEntry struct {
	done    chan struct{} // closed once the lookup ended; then the fields below are set
	id      string
	present bool
	err     error
	at      time.Time
}

func newImageCache() *imageCache { return &imageCache{entries: map[string]*imageEntry{}} }

// status returns the ID of image and whether it is present: from the cache, from a lookup under way,
// or by calling lookup. Only "present" answers are kept.
func (c *imageCache) status(ctx context.Context, image string, lookup func(ctx context.Context) (string, bool, error)) (string, bool, error) {
	c.mu.Lock()
	e := c.entries[image]
	if e != nil {
		select {
		case <-e.done:
			if time.Since(e.at) < imageStatusTTL {
				c.mu.Unlock()
				return e.id, true, nil
			}
			e = nil // expired
		default: // under way: wait for it
		}
	}
	if e != nil {
		c.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return "", false, ctx.Err()
		}
		if e.err != nil || !e.present {
			return c.status(ctx, image, lookup) // ask for ourselves: absence and errors are not shared
		}
		return e.id, true, nil
	}
	e = &imageEntry{done: make(chan struct{})}
	c.entries[image] = e
	c.mu.Unlock()

	e.id, e.present, e.err = lookup(ctx)
	e.at = time.Now()
	c.mu.Lock()
	if e.err != nil || !e.present {
		if c.entries[image] == e {
			delete(c.entries, image)
		}
	}
	c.mu.Unlock()
	close(e.done)
	return e.id, e.present, e.err
}

// set records image as present with id (after a pull).
func (c *imageCache) set(image, id string) {
	e := &imageEntry{done: make(chan struct{}), id: id, present: true, at: time.Now()}
	close(e.done)
	c.mu.Lock()
	c.entries[image] = e
	c.mu.Unlock()
}

// forget drops what is known of image (a container of it could not be created).
func (c *imageCache) forget(image string) {
	c.mu.Lock()
	if e := c.entries[image]; e != nil {
		select {
		case <-e.done:
			delete(c.entries, image)
		default: // a lookup under way answers afresh
		}
	}
	c.mu.Unlock()
}

// prune drops expired entries, so that the cache holds only images of recent starts.
func (c *imageCache) prune() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		select {
		case <-e.done:
			if time.Since(e.at) >= imageStatusTTL {
				delete(c.entries, k)
			}
		default:
		}
	}
}
