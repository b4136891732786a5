package main

import (
	"fmt"
	"strconv"
	"strings"
)

// parseMethodDelay parses "Method:ms,Method:ms" into the library's DelayConfig.MethodDelay map.
func parseMethodDelay(spec string) (map[string]int, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	out := map[string]int{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		i := strings.LastIndex(item, ":")
		if i <= 0 {
			return nil, fmt.Errorf("%q: want Method:ms", item)
		}
		ms, err := strconv.Atoi(item[i+1:])
		if err != nil || ms < 0 {
			return nil, fmt.Errorf("%q: delay must be a non-negative integer (ms)", item)
		}
		out[item[:i]] = ms
	}
	return out, nil
}
