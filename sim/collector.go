package main

// WaitForUpdatesEx answered incrementally.
//
// govmomi 0.24's PropertyCollector re-collects every filter in full for each update it delivers (at 2,500 hosts
// / 40,000 VMs one started service costs the daemon's filter a whole inventory walk, tens of seconds) and ignores
// WaitOptions.maxObjectUpdates, so its first answer is unbounded. The launcher answers WaitForUpdatesEx itself,
// per the vSphere API reference, keeping per collector (and per session for the session's view of the root
// collector) the objects each filter has reported:
//   - version "": every object of every filter as "enter" (also for a filter created later: at the next call);
//   - later calls, with the version of the previous answer: the changes since then — "modify" of a reported
//     object with the changes its filter's property paths select (a change of a parent or child of a watched path
//     is answered with the path's current value), "leave" for objects deleted or no longer reached by the
//     filter's traversal, "enter" for objects newly reached (the filter is re-collected only when a traversed
//     property changed or an object of a type it watches was created);
//   - maxObjectUpdates pages an answer: truncated=true and the rest at the next call, at once;
//   - a version other than the last answered one: InvalidCollectorVersion;
//   - maxWaitSeconds 0 checks once, unset waits until there is something to answer; CancelWaitForUpdates (or a
//     newer WaitForUpdatesEx on the same collector) ends a waiting call with RequestCanceled.
// CancelWaitForUpdates and DestroyPropertyCollector are routed here too; the library then destroys the collector.

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

const (
	collectorProxyType = proxyPrefix + "PropertyCollector"
	// accumulate is how long a wait lets the rest of an operation's changes arrive after the first one.
	accumulate = 20 * time.Millisecond
	// maxPending bounds the changes kept for a collector nobody waits on (a client gone without destroying it);
	// past it the collector forgets them and answers its next wait as a full resync of every filter.
	maxPending = 200000
)

// collectorRouted are the collector methods its proxy answers (the paged retrievals: retrieve.go).
var collectorRouted = map[string]bool{"WaitForUpdatesEx": true, "CancelWaitForUpdates": true,
	"DestroyPropertyCollector": true, "RetrievePropertiesEx": true, "ContinueRetrievePropertiesEx": true,
	"CancelRetrievePropertiesEx": true}

// waitRegistry holds the wait state of every collector, by session key and collector moref value.
type waitRegistry struct {
	mu     sync.Mutex
	states map[string]*waitState
}

func (r *waitRegistry) state(session, collector string) *waitState {
	key := session + "/" + collector
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.states == nil {
		r.states = map[string]*waitState{}
	}
	st := r.states[key]
	if st == nil {
		st = &waitState{self: types.ManagedObjectReference{Type: "VsrCollectorWait", Value: key},
			notify: make(chan struct{}, 1)}
		r.states[key] = st
	}
	return st
}

func (r *waitRegistry) drop(session, collector string) *waitState {
	key := session + "/" + collector
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.states[key]
	delete(r.states, key)
	return st
}

// forgetSession ends the waits of a session that logged out or was terminated (the cookie is the session key).
func (r *waitRegistry) forgetSession(session string) {
	r.mu.Lock()
	var gone []*waitState
	for key, st := range r.states {
		if strings.HasPrefix(key, session+"/") {
			gone = append(gone, st)
			delete(r.states, key)
		}
	}
	r.mu.Unlock()
	for _, st := range gone {
		st.cancelWait()
		simulator.Map.RemoveHandler(st)
	}
}

// routeCollector renames _this of the collector methods above to the proxy for that collector value,
// registering the proxy (a session's collectors are unknown to the global registry, so the generic proxy route,
// which checks that the object exists there, does not apply).
func (s *Sim) routeCollector(method *simulator.Method, body []byte) []byte {
	if method.This.Type != "PropertyCollector" || !collectorRouted[method.Name] {
		return body
	}
	pref := types.ManagedObjectReference{Type: collectorProxyType, Value: method.This.Value}
	s.waits.mu.Lock()
	if simulator.Map.Get(pref) == nil {
		p := &CollectorProxy{waits: &s.waits, retrievals: &s.retrievals}
		p.Self = pref
		simulator.Map.Put(p)
	}
	s.waits.mu.Unlock()
	return renameThis(body, method.This.Type, collectorProxyType) // proxy.go
}

// CollectorProxy serves the wait and paged retrieval methods of the collector with the same moref value.
type CollectorProxy struct {
	mo.PropertyCollector
	waits      *waitRegistry
	retrievals *retrievals
}

// Lock and Unlock make the registry's per-object lock a no-op: a wait holds its call for a long time and
// CancelWaitForUpdates must reach it meanwhile.
func (p *CollectorProxy) Lock()   {}
func (p *CollectorProxy) Unlock() {}

func (p *CollectorProxy) real() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "PropertyCollector", Value: p.Self.Value}
}

// collector is the session's collector this proxy serves, or the fault for one destroyed or never created.
func (p *CollectorProxy) collector(ctx *simulator.Context) (*simulator.PropertyCollector, *soap.Fault) {
	pc, ok := ctx.Session.Get(p.real()).(*simulator.PropertyCollector)
	if !ok {
		return nil, fault("The object has already been deleted or has not been completely created",
			&types.ManagedObjectNotFound{Obj: p.real()})
	}
	return pc, nil
}

func (p *CollectorProxy) WaitForUpdatesEx(ctx *simulator.Context, req *types.WaitForUpdatesEx) soap.HasFault {
	body := &methods.WaitForUpdatesExBody{}
	pc, nf := p.collector(ctx)
	if nf != nil {
		body.Fault_ = nf
		return body
	}
	set, f := p.waits.state(ctx.Session.Key, p.Self.Value).wait(ctx, pc, req.Version, req.Options)
	if f != nil {
		body.Fault_ = fault("", f)
		return body
	}
	body.Res = &types.WaitForUpdatesExResponse{Returnval: set}
	return body
}

func (p *CollectorProxy) CancelWaitForUpdates(ctx *simulator.Context, req *types.CancelWaitForUpdates) soap.HasFault {
	p.waits.state(ctx.Session.Key, p.Self.Value).cancelWait()
	return &methods.CancelWaitForUpdatesBody{Res: new(types.CancelWaitForUpdatesResponse)}
}

func (p *CollectorProxy) DestroyPropertyCollector(ctx *simulator.Context, req *types.DestroyPropertyCollector) soap.HasFault {
	if st := p.waits.drop(ctx.Session.Key, p.Self.Value); st != nil {
		st.cancelWait()
		simulator.Map.RemoveHandler(st)
	}
	p.retrievals.forget(ctx.Session.Key, p.Self.Value)
	pc, nf := p.collector(ctx)
	if nf != nil {
		return &faultBody{Fault_: nf}
	}
	if strings.HasPrefix(p.Self.Value, "session[") { // a session's own collector: its value is never reused
		simulator.Map.Remove(p.Self)
	}
	return pc.DestroyPropertyCollector(ctx, &types.DestroyPropertyCollector{This: p.real()})
}

// waitState is one collector's position: what each filter has reported, the changes not answered yet.
type waitState struct {
	self types.ManagedObjectReference // as a registry handler

	mu      sync.Mutex // held by the one running wait (answers are computed under it)
	started bool
	version int
	members map[types.ManagedObjectReference]map[types.ManagedObjectReference]bool // filter -> objects reported
	backlog []types.PropertyFilterUpdate                                           // computed, not yet answered

	pmu        sync.Mutex // guards what the registry handlers and CancelWaitForUpdates touch
	pending    []types.ObjectUpdate
	overflowed bool
	waitGen    int
	cancel     context.CancelFunc
	notify     chan struct{}
}

func (st *waitState) Reference() types.ManagedObjectReference { return st.self }

func (st *waitState) PutObject(o mo.Reference) {
	st.push(types.ObjectUpdate{Kind: types.ObjectUpdateKindEnter, Obj: o.Reference()})
}

func (st *waitState) UpdateObject(o mo.Reference, changes []types.PropertyChange) {
	st.push(types.ObjectUpdate{Kind: types.ObjectUpdateKindModify, Obj: o.Reference(),
		ChangeSet: append([]types.PropertyChange(nil), changes...)})
}

func (st *waitState) RemoveObject(ref types.ManagedObjectReference) {
	st.push(types.ObjectUpdate{Kind: types.ObjectUpdateKindLeave, Obj: ref})
}

func (st *waitState) push(u types.ObjectUpdate) {
	st.pmu.Lock()
	if len(st.pending) >= maxPending {
		st.pending, st.overflowed = nil, true
	}
	if !st.overflowed {
		st.pending = append(st.pending, u)
	}
	st.pmu.Unlock()
	select {
	case st.notify <- struct{}{}:
	default:
	}
}

func (st *waitState) take() ([]types.ObjectUpdate, bool) {
	st.pmu.Lock()
	defer st.pmu.Unlock()
	pending, overflowed := st.pending, st.overflowed
	st.pending, st.overflowed = nil, false
	return pending, overflowed
}

func (st *waitState) cancelWait() {
	st.pmu.Lock()
	if st.cancel != nil {
		st.cancel()
	}
	st.pmu.Unlock()
}

// beginWait cancels a wait already running on the collector and returns this one's context and its release.
func (st *waitState) beginWait() (context.Context, func()) {
	wctx, cancel := context.WithCancel(context.Background())
	st.pmu.Lock()
	if st.cancel != nil {
		st.cancel()
	}
	st.waitGen++
	gen := st.waitGen
	st.cancel = cancel
	st.pmu.Unlock()
	return wctx, func() {
		st.pmu.Lock()
		if st.waitGen == gen {
			st.cancel = nil
		}
		st.pmu.Unlock()
		cancel()
	}
}

func (st *waitState) wait(ctx *simulator.Context, pc *simulator.PropertyCollector, version string,
	opts *types.WaitOptions) (*types.UpdateSet, types.BaseMethodFault) {
	wctx, release := st.beginWait()
	defer release()
	st.mu.Lock()
	defer st.mu.Unlock()

	if version == "" {
		if !st.started {
			simulator.Map.AddHandler(st) // before collecting: a change made meanwhile is answered next time
			st.started = true
		}
		st.take()
		st.members, st.backlog = map[types.ManagedObjectReference]map[types.ManagedObjectReference]bool{}, nil
	} else if !st.started || version != strconv.Itoa(st.version) {
		return nil, &types.InvalidCollectorVersion{}
	}

	maxObjects := 0
	var timeout <-chan time.Time
	once := false
	if opts != nil {
		maxObjects = int(opts.MaxObjectUpdates)
		if opts.MaxWaitSeconds != nil {
			if *opts.MaxWaitSeconds <= 0 {
				once = true
			} else {
				timer := time.NewTimer(time.Duration(*opts.MaxWaitSeconds) * time.Second)
				defer timer.Stop()
				timeout = timer.C
			}
		}
	}
	for {
		if len(st.backlog) == 0 {
			updates, f := st.process(ctx, pc)
			if f != nil {
				return nil, f
			}
			st.backlog = updates
		}
		if len(st.backlog) > 0 {
			return st.page(maxObjects), nil
		}
		if once {
			return nil, nil
		}
		select {
		case <-st.notify:
			time.Sleep(accumulate)
		case <-timeout:
			return nil, nil
		case <-wctx.Done():
			return nil, &types.RequestCanceled{}
		}
	}
}

// page answers up to max object updates of the backlog (all when max <= 0) under the next version.
func (st *waitState) page(max int) *types.UpdateSet {
	st.version++
	set := &types.UpdateSet{Version: strconv.Itoa(st.version)}
	if max <= 0 {
		set.FilterSet, st.backlog = st.backlog, nil
		return set
	}
	for n := 0; len(st.backlog) > 0 && n < max; {
		fu := &st.backlog[0]
		take := len(fu.ObjectSet)
		if take > max-n {
			take = max - n
		}
		set.FilterSet = append(set.FilterSet, types.PropertyFilterUpdate{Filter: fu.Filter, ObjectSet: fu.ObjectSet[:take]})
		fu.ObjectSet = fu.ObjectSet[take:]
		n += take
		if len(fu.ObjectSet) == 0 {
			st.backlog = st.backlog[1:]
		}
	}
	if len(st.backlog) > 0 {
		set.Truncated = types.NewBool(true)
	}
	return set
}

// process turns the changes received since the last answer into filter updates.
func (st *waitState) process(ctx *simulator.Context, pc *simulator.PropertyCollector) ([]types.PropertyFilterUpdate,
	types.BaseMethodFault) {
	pending, overflowed := st.take()
	var out []types.PropertyFilterUpdate
	live := map[types.ManagedObjectReference]bool{}
	for _, fref := range pc.Filter {
		filter, ok := ctx.Session.Get(fref).(*simulator.PropertyFilter)
		if !ok {
			continue
		}
		live[fref] = true
		spec := newFilterSpec(ctx, filter.Spec)
		members, known := st.members[fref]
		var objects []types.ObjectUpdate
		var f types.BaseMethodFault
		switch {
		case !known:
			members = map[types.ManagedObjectReference]bool{}
			st.members[fref] = members
			objects, f = spec.recollect(ctx, members, false, false)
		case overflowed:
			objects, f = spec.recollect(ctx, members, true, true)
		default:
			objects, f = spec.changes(ctx, members, pending)
		}
		if f != nil {
			return nil, f
		}
		if len(objects) > 0 {
			out = append(out, types.PropertyFilterUpdate{Filter: fref, ObjectSet: objects})
		}
	}
	for fref := range st.members {
		if !live[fref] {
			delete(st.members, fref)
		}
	}
	return out, nil
}

// filterSpec is a PropertyFilterSpec with what answering updates needs: the property paths per object type
// and the traversed properties.
type filterSpec struct {
	types.PropertyFilterSpec
	traversed []types.TraversalSpec
}

func newFilterSpec(ctx *simulator.Context, spec types.PropertyFilterSpec) *filterSpec {
	fs := &filterSpec{PropertyFilterSpec: spec}
	named := map[string]bool{}
	var walk func([]types.BaseSelectionSpec)
	walk = func(set []types.BaseSelectionSpec) {
		for _, s := range set {
			ts, ok := s.(*types.TraversalSpec)
			if !ok || (ts.Name != "" && named[ts.Name]) {
				continue
			}
			if ts.Name != "" {
				named[ts.Name] = true
			}
			fs.traversed = append(fs.traversed, *ts)
			walk(ts.SelectSet)
		}
	}
	for _, o := range spec.ObjectSet {
		walk(o.SelectSet)
	}
	return fs
}

// paths are the property paths the filter asks of ref (all: every property).
func (fs *filterSpec) paths(ctx *simulator.Context, ref types.ManagedObjectReference) (paths []string, all, covered bool) {
	for _, p := range fs.PropSet {
		if !isKind(ctx, ref, p.Type) {
			continue
		}
		covered = true
		if isTrue(p.All) {
			all = true
		}
		paths = append(paths, p.PathSet...)
	}
	return paths, all, covered
}

// traverses reports whether a change of ref's property `name` may change which objects the filter reaches.
func (fs *filterSpec) traverses(ctx *simulator.Context, ref types.ManagedObjectReference, name string) bool {
	for _, ts := range fs.traversed {
		if related(name, ts.Path) && isKind(ctx, ref, ts.Type) {
			return true
		}
	}
	return false
}

// recollect collects the filter afresh and answers the difference with members: "enter" for objects not
// reported yet, "leave" for reported ones no longer reached, and with refresh "modify" carrying every property
// of the others. tolerant: objects named in the spec that are gone are skipped, not a fault.
func (fs *filterSpec) recollect(ctx *simulator.Context, members map[types.ManagedObjectReference]bool,
	tolerant, refresh bool) ([]types.ObjectUpdate, types.BaseMethodFault) {
	spec := fs.PropertyFilterSpec
	if tolerant {
		spec.ReportMissingObjectsInResults = types.NewBool(true)
	}
	contents, f := retrieve(ctx, spec)
	if f != nil {
		return nil, f
	}
	var out []types.ObjectUpdate
	reached := make(map[types.ManagedObjectReference]bool, len(contents))
	for _, o := range contents {
		reached[o.Obj] = true
		kind := types.ObjectUpdateKindEnter
		if members[o.Obj] {
			if !refresh {
				continue
			}
			kind = types.ObjectUpdateKindModify
		}
		members[o.Obj] = true
		out = append(out, fs.contentUpdate(ctx, kind, o))
	}
	for ref := range members {
		if !reached[ref] {
			delete(members, ref)
			out = append(out, types.ObjectUpdate{Kind: types.ObjectUpdateKindLeave, Obj: ref})
		}
	}
	return out, nil
}

// contentUpdate is an object's collected properties as an update; properties without a value are assigned
// nothing, as the library's first answer does (invalid paths are left out, as there).
func (fs *filterSpec) contentUpdate(ctx *simulator.Context, kind types.ObjectUpdateKind,
	o types.ObjectContent) types.ObjectUpdate {
	ou := types.ObjectUpdate{Kind: kind, Obj: o.Obj}
	have := map[string]bool{}
	for _, p := range o.PropSet {
		have[p.Name] = true
		ou.ChangeSet = append(ou.ChangeSet, types.PropertyChange{Name: p.Name, Op: types.PropertyChangeOpAssign, Val: p.Val})
	}
	for _, m := range o.MissingSet {
		have[m.Path] = true
	}
	if paths, all, _ := fs.paths(ctx, o.Obj); !all {
		for _, p := range paths {
			if !have[p] {
				have[p] = true
				ou.ChangeSet = append(ou.ChangeSet, types.PropertyChange{Name: p, Op: types.PropertyChangeOpAssign})
			}
		}
	}
	return ou
}

// changes answers pending registry changes for one filter.
func (fs *filterSpec) changes(ctx *simulator.Context, members map[types.ManagedObjectReference]bool,
	pending []types.ObjectUpdate) ([]types.ObjectUpdate, types.BaseMethodFault) {
	var out []types.ObjectUpdate
	modified := map[types.ManagedObjectReference]int{} // object -> index of its modify in out
	recollect := false
	for _, u := range pending {
		switch u.Kind {
		case types.ObjectUpdateKindEnter:
			if _, _, covered := fs.paths(ctx, u.Obj); covered {
				recollect = true
			}
		case types.ObjectUpdateKindModify:
			for _, c := range u.ChangeSet {
				if !recollect && fs.traverses(ctx, u.Obj, c.Name) {
					recollect = true
				}
			}
			if !members[u.Obj] {
				continue
			}
			cs := fs.selected(ctx, u.Obj, u.ChangeSet)
			if len(cs) == 0 {
				continue
			}
			if i, ok := modified[u.Obj]; ok {
				out[i].ChangeSet = mergeChanges(out[i].ChangeSet, cs)
				continue
			}
			modified[u.Obj] = len(out)
			out = append(out, types.ObjectUpdate{Kind: types.ObjectUpdateKindModify, Obj: u.Obj, ChangeSet: cs})
		case types.ObjectUpdateKindLeave:
			if members[u.Obj] {
				delete(members, u.Obj)
				delete(modified, u.Obj)
				out = append(out, types.ObjectUpdate{Kind: types.ObjectUpdateKindLeave, Obj: u.Obj})
			}
		}
	}
	if recollect {
		more, f := fs.recollect(ctx, members, true, false)
		if f != nil {
			return nil, f
		}
		out = append(out, more...)
	}
	return out, nil
}

// selected keeps the changes the filter's paths for ref ask for. A change of a path's parent or child (the
// library publishes "runtime.powerState" or "config" alike) is answered with the watched path's current value.
func (fs *filterSpec) selected(ctx *simulator.Context, ref types.ManagedObjectReference,
	changes []types.PropertyChange) []types.PropertyChange {
	paths, all, _ := fs.paths(ctx, ref)
	if all {
		return changes
	}
	var out []types.PropertyChange
	var reread []string
	queued := map[string]bool{}
	for _, c := range changes {
		for _, p := range paths {
			switch {
			case c.Name == p:
				out = append(out, c)
			case related(c.Name, p) && !queued[p]:
				queued[p] = true
				reread = append(reread, p)
			}
		}
	}
	if len(reread) == 0 {
		return out
	}
	values := map[string]interface{}{}
	spec := types.PropertyFilterSpec{ObjectSet: []types.ObjectSpec{{Obj: ref}},
		PropSet: []types.PropertySpec{{Type: ref.Type, PathSet: reread}}, ReportMissingObjectsInResults: types.NewBool(true)}
	if contents, f := retrieve(ctx, spec); f == nil {
		for _, o := range contents {
			for _, p := range o.PropSet {
				values[p.Name] = p.Val
			}
		}
	}
	for _, p := range reread {
		out = mergeChanges(out, []types.PropertyChange{{Name: p, Op: types.PropertyChangeOpAssign, Val: values[p]}})
	}
	return out
}

// mergeChanges appends next to cs, a later change of the same property replacing the earlier one.
func mergeChanges(cs, next []types.PropertyChange) []types.PropertyChange {
	for _, n := range next {
		replaced := false
		for i := range cs {
			if cs[i].Name == n.Name {
				cs[i], replaced = n, true
				break
			}
		}
		if !replaced {
			cs = append(cs, n)
		}
	}
	return cs
}

// related reports whether property path a is b, or a parent or child of b ("config" / "config.extraConfig",
// "config.extraConfig[\"k\"]").
func related(a, b string) bool {
	return a == b || under(a, b) || under(b, a)
}

func under(child, parent string) bool {
	return len(child) > len(parent) && strings.HasPrefix(child, parent) &&
		(child[len(parent)] == '.' || child[len(parent)] == '[')
}

var kindCache sync.Map // "ObjType/SpecType" -> bool

// isKind reports whether the object ref is of the managed type kind: the same type, or one it extends
// (ManagedEntity, ComputeResource), as the library's collector decides it.
func isKind(ctx *simulator.Context, ref types.ManagedObjectReference, kind string) bool {
	if ref.Type == kind {
		return true
	}
	key := ref.Type + "/" + kind
	if v, ok := kindCache.Load(key); ok {
		return v.(bool)
	}
	obj := ctx.Session.Get(ref)
	if obj == nil {
		return false // gone: not cached, a later object of the type may exist
	}
	t := reflect.TypeOf(obj)
	for t.Kind() == reflect.Ptr {
		t = t.Elem()
	}
	field, found := t.FieldByName(kind)
	v := t.Name() == kind || (found && field.Anonymous)
	kindCache.Store(key, v)
	return v
}

// retrieve collects spec with the library's collector (RetrievePropertiesEx; its receiver's state is unused).
func retrieve(ctx *simulator.Context, spec types.PropertyFilterSpec) ([]types.ObjectContent, types.BaseMethodFault) {
	res := (&simulator.PropertyCollector{}).RetrievePropertiesEx(ctx, &types.RetrievePropertiesEx{
		SpecSet: []types.PropertyFilterSpec{spec}})
	if sf := res.Fault(); sf != nil {
		if f, ok := sf.VimFault().(types.BaseMethodFault); ok {
			return nil, f
		}
		return nil, &types.SystemError{Reason: sf.String}
	}
	body, ok := res.(*methods.RetrievePropertiesExBody)
	if !ok || body.Res == nil || body.Res.Returnval == nil {
		return nil, nil
	}
	return body.Res.Returnval.Objects, nil
}
