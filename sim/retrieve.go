package main

// RetrievePropertiesEx paged by RetrieveOptions.maxObjects, per the vSphere API reference.
//
// govmomi 0.24 ignores maxObjects and never returns a token, so a client's ContinueRetrievePropertiesEx loop is
// never exercised. The launcher routes the three calls to the collector's proxy (collector.go):
//   - RetrievePropertiesEx collects with the library, answers the first maxObjects objects and keeps the rest
//     under a token; an unset maxObjects answers everything; a negative one is InvalidArgument;
//   - ContinueRetrievePropertiesEx answers the next page of a token; each token may be used once, only in the
//     session and on the collector that returned it (else InvalidArgument "token");
//   - CancelRetrievePropertiesEx discards a token's remaining objects (an unknown token is InvalidArgument).
// The remaining objects are the ones collected by the first call: a page does not see later changes.
// A session that logs out or expires loses its tokens. maxObjects 0 cannot be told from unset on the library's
// decoding (omitempty int32), so it answers everything where a real vCenter faults.

import (
	"strconv"
	"strings"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// retrieval is what a token still has to answer.
type retrieval struct {
	rest     []types.ObjectContent
	pageSize int
}

// retrievals holds the tokens of every session and collector.
type retrievals struct {
	mu     sync.Mutex
	next   int
	tokens map[string]*retrieval // session/collector/token -> remaining objects
}

func retrievalKey(session, collector, token string) string {
	return session + "/" + collector + "/" + token
}

// page answers up to pageSize of objects, keeping the rest under a new token.
func (r *retrievals) page(session, collector string, objects []types.ObjectContent, pageSize int) *types.RetrieveResult {
	res := &types.RetrieveResult{Objects: objects}
	if pageSize <= 0 || len(objects) <= pageSize {
		return res
	}
	res.Objects = objects[:pageSize]
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tokens == nil {
		r.tokens = map[string]*retrieval{}
	}
	r.next++
	res.Token = strconv.Itoa(r.next)
	r.tokens[retrievalKey(session, collector, res.Token)] = &retrieval{rest: objects[pageSize:], pageSize: pageSize}
	return res
}

// take removes a token and returns what it had left (nil for a token this session and collector do not hold).
func (r *retrievals) take(session, collector, token string) *retrieval {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := retrievalKey(session, collector, token)
	left := r.tokens[key]
	delete(r.tokens, key)
	return left
}

// forget drops the tokens of a session that logged out or expired (collector "") or of a destroyed collector.
func (r *retrievals) forget(session, collector string) {
	prefix := session + "/"
	if collector != "" {
		prefix += collector + "/"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for key := range r.tokens {
		if strings.HasPrefix(key, prefix) {
			delete(r.tokens, key)
		}
	}
}

func badToken() *soap.Fault {
	return fault("The token is not valid for this session and collector", &types.InvalidArgument{InvalidProperty: "token"})
}

func (p *CollectorProxy) RetrievePropertiesEx(ctx *simulator.Context, req *types.RetrievePropertiesEx) soap.HasFault {
	body := &methods.RetrievePropertiesExBody{}
	if req.Options.MaxObjects < 0 {
		body.Fault_ = fault("maxObjects must be positive", &types.InvalidArgument{InvalidProperty: "maxObjects"})
		return body
	}
	pc, nf := p.collector(ctx)
	if nf != nil {
		body.Fault_ = nf
		return body
	}
	inner := *req
	inner.This = p.real()
	res := pc.RetrievePropertiesEx(ctx, &inner)
	full, ok := res.(*methods.RetrievePropertiesExBody)
	if !ok || full.Fault_ != nil || full.Res == nil || full.Res.Returnval == nil {
		return res
	}
	body.Res = &types.RetrievePropertiesExResponse{Returnval: p.retrievals.page(ctx.Session.Key, p.Self.Value,
		full.Res.Returnval.Objects, int(req.Options.MaxObjects))}
	return body
}

func (p *CollectorProxy) ContinueRetrievePropertiesEx(ctx *simulator.Context,
	req *types.ContinueRetrievePropertiesEx) soap.HasFault {
	body := &methods.ContinueRetrievePropertiesExBody{}
	if _, nf := p.collector(ctx); nf != nil {
		body.Fault_ = nf
		return body
	}
	left := p.retrievals.take(ctx.Session.Key, p.Self.Value, req.Token)
	if left == nil {
		body.Fault_ = badToken()
		return body
	}
	body.Res = &types.ContinueRetrievePropertiesExResponse{
		Returnval: *p.retrievals.page(ctx.Session.Key, p.Self.Value, left.rest, left.pageSize)}
	return body
}

func (p *CollectorProxy) CancelRetrievePropertiesEx(ctx *simulator.Context,
	req *types.CancelRetrievePropertiesEx) soap.HasFault {
	if _, nf := p.collector(ctx); nf != nil {
		return &methods.CancelRetrievePropertiesExBody{Fault_: nf}
	}
	if p.retrievals.take(ctx.Session.Key, p.Self.Value, req.Token) == nil {
		return &methods.CancelRetrievePropertiesExBody{Fault_: badToken()}
	}
	return &methods.CancelRetrievePropertiesExBody{Res: new(types.CancelRetrievePropertiesExResponse)}
}
