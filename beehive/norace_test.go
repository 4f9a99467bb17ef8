//go:build !race

package beehive

const raceEnabled = false
