// gotemplate_oracle.go — the reference that test_cli_format.py compares
// berth's template engine with: Go's own text/template, with docker's
// template functions, over JSON data decoded the way berth models it.
//
// Usage: gotemplate_oracle TEMPLATE < data.json
// Prints the output on stdout; a parse or execution error on stderr, exit 1.
// Also: gotemplate_oracle -tabwriter MINWIDTH TABWIDTH PADDING PADCHAR FLAGS < text
// lays text out with Go's text/tabwriter (docker's fork differs only in how
// it measures non-ASCII widths).
//
// Data model (as src/cli/gotemplate.h describes it): integral JSON numbers
// are int64, others float64; an object whose values are all strings is a
// map[string]string (docker's labels), other objects map[string]interface{},
// arrays []interface{}.  Test code only; it reads stdin and writes nothing else.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"
)

func convert(v interface{}) interface{} {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil && !strings.ContainsAny(string(x), ".eE") {
			return i
		}
		f, _ := x.Float64()
		return f
	case []interface{}:
		for i := range x {
			x[i] = convert(x[i])
		}
		return x
	case map[string]interface{}:
		allStrings := true
		for k, e := range x {
			x[k] = convert(e)
			if _, ok := x[k].(string); !ok {
				allStrings = false
			}
		}
		if allStrings {
			m := make(map[string]string, len(x))
			for k, e := range x {
				m[k] = e.(string)
			}
			return m
		}
		return x
	}
	return v
}

// docker's functions (github.com/docker/cli/templates), written from their documented behaviour.
var funcs = template.FuncMap{
	"json": func(v interface{}) string {
		buf := &bytes.Buffer{}
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			panic(err)
		}
		return strings.TrimSpace(buf.String())
	},
	"split": strings.Split,
	"join": func(elems interface{}, sep string) (string, error) {
		if elems == nil {
			return "", nil
		}
		rv := reflect.ValueOf(elems)
		switch rv.Kind() {
		case reflect.Array, reflect.Slice:
			var b strings.Builder
			for i := 0; i < rv.Len(); i++ {
				if i > 0 {
					b.WriteString(sep)
				}
				fmt.Fprint(&b, rv.Index(i).Interface())
			}
			return b.String(), nil
		case reflect.Map:
			var out []string
			for _, k := range rv.MapKeys() {
				out = append(out, fmt.Sprint(rv.MapIndex(k).Interface()))
			}
			sort.Strings(out)
			return strings.Join(out, sep), nil
		}
		return "", fmt.Errorf("expected slice, got %T", elems)
	},
	"title": strings.Title,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"pad": func(s string, prefix, suffix int) string {
		if s == "" {
			return s
		}
		return strings.Repeat(" ", prefix) + s + strings.Repeat(" ", suffix)
	},
	"truncate": func(s string, n int) string {
		if len(s) < n {
			return s
		}
		return s[:n]
	},
}

func tabwrite(args []string, in []byte) {
	n := make([]int, 5)
	for i, a := range args {
		if i == 3 {
			n[i] = int(a[0])
			continue
		}
		n[i], _ = strconv.Atoi(a)
	}
	w := tabwriter.NewWriter(os.Stdout, n[0], n[1], n[2], byte(n[3]), uint(n[4]))
	w.Write(in)
	w.Flush()
}

func main() {
	raw, _ := io.ReadAll(os.Stdin)
	if len(os.Args) == 7 && os.Args[1] == "-tabwriter" {
		tabwrite(os.Args[2:], raw)
		return
	}
	var data interface{}
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&data); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		data = convert(data)
	}
	t, err := template.New("").Funcs(funcs).Parse(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := t.Execute(os.Stdout, data); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
