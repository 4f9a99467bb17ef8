package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/edgehive/edgehive/hub"
)

// The simulated cluster: node i is "hollow-<i>"; it holds objects 0..K-1, the config maps
// "edgemark/configmap/obj-<j>", each about ObjectSize bytes of JSON. Every object starts at
// resourceVersion 1; the harness hands out later versions from one counter, as an API server does.

const (
	namespace  = "edgemark"
	sentMarker = `"edgemark.io/sent":"`
)

func nodeName(i int) hub.NodeName { return hub.NodeName("hollow-" + strconv.Itoa(i)) }

func objectKey(j int) hub.Key {
	return hub.Key{Namespace: namespace, Kind: hub.KindConfigMap, Name: "obj-" + strconv.Itoa(j)}
}

// objectIndex is the j of "obj-<j>", or -1.
func objectIndex(k hub.Key) int {
	s, ok := strings.CutPrefix(k.Name, "obj-")
	if !ok || k.Namespace != namespace {
		return -1
	}
	j, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return j
}

// objectContent is the JSON of object j at version rv, stamped with the cloud's send time (Unix
// nanoseconds) and padded to about size bytes.
func objectContent(j int, rv uint64, sent int64, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"obj-%d","namespace":"%s","resourceVersion":"%d","annotations":{%s%d"}},"data":{"pad":"`,
		j, namespace, rv, sentMarker, sent)
	if pad := size - 3 - b.Len(); pad > 0 {
		b.Write(bytes.Repeat([]byte{'x'}, pad))
	}
	b.WriteString(`"}}`)
	return b.Bytes()
}

// sentTime reads the send stamp of objectContent, or 0.
func sentTime(content []byte) int64 {
	i := bytes.Index(content, []byte(sentMarker))
	if i < 0 {
		return 0
	}
	rest := content[i+len(sentMarker):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || j > 20 {
		return 0
	}
	n, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// writeState writes the versions that differ from 1 as "<node> <object> <rv>" lines: what the
// restarted cloud lists from its "API server".
func writeState(w io.Writer, want []uint64, objects int) error {
	bw := bufio.NewWriter(w)
	for i, rv := range want {
		if rv != 1 {
			fmt.Fprintf(bw, "%d %d %d\n", i/objects, i%objects, rv)
		}
	}
	return bw.Flush()
}

// readState reads writeState's lines into want (nodes*objects versions, preset to 1).
func readState(r io.Reader, want []uint64, nodes, objects int) error {
	sc := lineReader(r)
	for sc.Scan() {
		u, err := parseUpdate(strings.Fields(sc.Text()), nodes, objects)
		if err != nil {
			return fmt.Errorf("state: %w", err)
		}
		want[u.node*objects+u.object] = u.rv
	}
	return scanErr(sc)
}
