package main

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Host-local accounts and their permissions on the host's root folder, per host.
//
// Every host gets its own HostLocalAccountManager (configManager.accountManager): CreateUser, UpdateUser,
// RemoveUser, ChangePassword, as the vSphere API reference describes them (AlreadyExists, UserNotFound,
// InvalidArgument for a bad name or a password the default ESXi password quality rejects). With -esx the host's
// own services read the same state: ServiceContent.accountManager is the host's manager,
// UserDirectory.RetrieveUserGroups lists its accounts (PosixUserSearchResult with shellAccess), and
// AuthorizationManager's Retrieve/Set/RemoveEntityPermission(s) on the root folder hold its permissions
// (UserNotFound, NotFound, AuthMinimumAdminPermission). Through vCenter those services are vCenter's, as real.
//
// Defaults: root (Admin, shell access), dcui (Admin), vpxuser when managed by vCenter (Admin), and with -esx the
// simulator's login user (Admin, shell access).

type localAccount struct {
	id, description, password string
	shell                     bool
	posixID                   int32
}

// LocalAccountManager is a per-host HostLocalAccountManager with the host's permissions on its root.
type LocalAccountManager struct {
	mo.HostLocalAccountManager
	host   *simulator.HostSystem
	users  map[string]*localAccount
	perms  []types.Permission // on the host's root folder
	nextID int32
	root   types.ManagedObjectReference
}

var localUserName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$`)

func (s *Sim) installAccounts() {
	s.accounts = map[string]*LocalAccountManager{}
	root := simulator.Map.Get(vimServiceInstance()).(*simulator.ServiceInstance).Content.RootFolder
	for _, h := range hostsSorted() {
		m := &LocalAccountManager{host: h, users: map[string]*localAccount{}, nextID: 1000, root: root}
		m.Self.Type = "HostLocalAccountManager"
		defaults := []string{"root", "dcui"}
		if !s.cfg.esx {
			defaults = append(defaults, "vpxuser")
		} else if s.cfg.username != "root" {
			defaults = append(defaults, s.cfg.username)
		}
		for i, id := range defaults {
			a := &localAccount{id: id, shell: id == "root" || id == s.cfg.username, posixID: int32(i)}
			if id == "root" {
				a.description = "Administrator"
			}
			if id == "dcui" {
				a.description = "DCUI User"
				a.posixID = 100
			}
			m.users[id] = a
			m.perms = append(m.perms, types.Permission{Entity: &root, Principal: id, RoleId: -1, Propagate: true})
		}
		if s.cfg.esx {
			m.Self = *h.ConfigManager.AccountManager // ha-localacctmgr, also ServiceContent.accountManager
			simulator.Map.Put(m)
		} else {
			ref := simulator.Map.Put(m).Reference()
			h.ConfigManager.AccountManager = &ref
		}
		s.accounts[h.Name] = m
	}
	if s.cfg.esx {
		s.override("UserDirectory", func(ref types.ManagedObjectReference) mo.Reference {
			p := &userDirectoryProxy{sim: s}
			p.Self = ref
			return p
		}, "RetrieveUserGroups")
		s.override("AuthorizationManager", func(ref types.ManagedObjectReference) mo.Reference {
			p := &authzProxy{sim: s}
			p.Self = ref
			return p
		}, "RetrieveEntityPermissions", "RetrieveAllPermissions", "SetEntityPermissions", "RemoveEntityPermission")
	}
}

// esxAccounts is the single host's account manager (-esx).
func (s *Sim) esxAccounts() *LocalAccountManager {
	for _, m := range s.accounts {
		return m
	}
	return nil
}

// weakPassword mirrors ESXi's default Security.PasswordQualityControl (min 7 characters, 3 character classes).
func weakPassword(p string) bool {
	classes := 0
	for _, re := range []string{`[a-z]`, `[A-Z]`, `[0-9]`, `[^A-Za-z0-9]`} {
		if regexp.MustCompile(re).MatchString(p) {
			classes++
		}
	}
	return len(p) < 7 || classes < 3
}

func passwordFault(p string) *soap.Fault {
	if p == "" || weakPassword(p) {
		return invalidArgument("user.password", "the password does not meet the host's password quality requirements")
	}
	return nil
}

func (m *LocalAccountManager) CreateUser(ctx *simulator.Context, req *types.CreateUser) soap.HasFault {
	spec := req.User.GetHostAccountSpec()
	if !localUserName.MatchString(spec.Id) {
		return &methods.CreateUserBody{Fault_: invalidArgument("user.id", fmt.Sprintf("%q is not a valid user name", spec.Id))}
	}
	if m.users[spec.Id] != nil {
		return &methods.CreateUserBody{Fault_: fault(fmt.Sprintf("The specified key, name, or identifier '%s' already exists.", spec.Id),
			&types.AlreadyExists{Name: spec.Id})}
	}
	if f := passwordFault(spec.Password); f != nil {
		return &methods.CreateUserBody{Fault_: f}
	}
	a := &localAccount{id: spec.Id, description: spec.Description, password: spec.Password, posixID: m.nextID}
	m.nextID++
	if posix, ok := req.User.(*types.HostPosixAccountSpec); ok && posix.ShellAccess != nil {
		a.shell = *posix.ShellAccess
	}
	m.users[spec.Id] = a
	return &methods.CreateUserBody{Res: &types.CreateUserResponse{}}
}

func (m *LocalAccountManager) UpdateUser(ctx *simulator.Context, req *types.UpdateUser) soap.HasFault {
	spec := req.User.GetHostAccountSpec()
	a := m.users[spec.Id]
	if a == nil {
		return &methods.UpdateUserBody{Fault_: fault("", &types.UserNotFound{Principal: spec.Id})}
	}
	if spec.Password != "" {
		if f := passwordFault(spec.Password); f != nil {
			return &methods.UpdateUserBody{Fault_: f}
		}
		a.password = spec.Password
	}
	if spec.Description != "" {
		a.description = spec.Description
	}
	if posix, ok := req.User.(*types.HostPosixAccountSpec); ok && posix.ShellAccess != nil && a.id != "root" {
		a.shell = *posix.ShellAccess // "Setting this property to false for user 'root' has no effect."
	}
	return &methods.UpdateUserBody{Res: &types.UpdateUserResponse{}}
}

func (m *LocalAccountManager) ChangePassword(ctx *simulator.Context, req *types.ChangePassword) soap.HasFault {
	a := m.users[req.User]
	if a == nil {
		return &methods.ChangePasswordBody{Fault_: fault("", &types.UserNotFound{Principal: req.User})}
	}
	if a.password != "" && a.password != req.OldPassword {
		return &methods.ChangePasswordBody{Fault_: fault("", &types.InvalidLogin{})}
	}
	if f := passwordFault(req.NewPassword); f != nil {
		return &methods.ChangePasswordBody{Fault_: f}
	}
	a.password = req.NewPassword
	return &methods.ChangePasswordBody{Res: &types.ChangePasswordResponse{}}
}

func (m *LocalAccountManager) RemoveUser(ctx *simulator.Context, req *types.RemoveUser) soap.HasFault {
	if m.users[req.UserName] == nil {
		return &methods.RemoveUserBody{Fault_: fault("", &types.UserNotFound{Principal: req.UserName})}
	}
	if req.UserName == "root" || req.UserName == "dcui" || req.UserName == "vpxuser" {
		return &methods.RemoveUserBody{Fault_: invalidArgument("userName", fmt.Sprintf("%q is a system account", req.UserName))}
	}
	var keep []types.Permission
	for _, p := range m.perms {
		if p.Group || p.Principal != req.UserName {
			keep = append(keep, p)
		}
	}
	if !hasAdmin(keep) {
		return &methods.RemoveUserBody{Fault_: fault("", &types.AuthMinimumAdminPermission{})}
	}
	delete(m.users, req.UserName)
	m.perms = keep
	return &methods.RemoveUserBody{Res: &types.RemoveUserResponse{}}
}

func (m *LocalAccountManager) CreateGroup(ctx *simulator.Context, req *types.CreateGroup) soap.HasFault {
	return &methods.CreateGroupBody{Fault_: fault("As of vSphere API 5.1, local user groups are not supported.", &types.NotSupported{})}
}

func hasAdmin(perms []types.Permission) bool {
	for _, p := range perms {
		if p.RoleId == -1 {
			return true
		}
	}
	return false
}

// userDirectoryProxy serves RetrieveUserGroups from the host's local accounts (-esx).
type userDirectoryProxy struct {
	mo.ExtensibleManagedObject
	sim *Sim
}

func (p *userDirectoryProxy) RetrieveUserGroups(ctx *simulator.Context, req *types.RetrieveUserGroups) soap.HasFault {
	m := p.sim.esxAccounts()
	var out soap.HasFault
	ctx.WithLock(m, func() { out = p.retrieve(m, req) })
	return out
}

func (p *userDirectoryProxy) retrieve(m *LocalAccountManager, req *types.RetrieveUserGroups) soap.HasFault {
	var res []types.BaseUserSearchResult
	if req.FindUsers && m != nil {
		ids := make([]string, 0, len(m.users))
		for id := range m.users {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			a := m.users[id]
			match := strings.Contains(strings.ToLower(id), strings.ToLower(req.SearchStr))
			if req.ExactMatch {
				match = id == req.SearchStr
			}
			if match {
				res = append(res, &types.PosixUserSearchResult{
					UserSearchResult: types.UserSearchResult{Principal: id, FullName: a.description},
					Id:               a.posixID, ShellAccess: boolPtr(a.shell)})
			}
		}
	}
	return &methods.RetrieveUserGroupsBody{Res: &types.RetrieveUserGroupsResponse{Returnval: res}}
}

// authzProxy serves the host's permissions on its root folder (-esx); other entities are the library's.
type authzProxy struct {
	mo.ExtensibleManagedObject
	sim *Sim
}

func (p *authzProxy) lib(this types.ManagedObjectReference) *simulator.AuthorizationManager {
	return simulator.Map.Get(realRef(this)).(*simulator.AuthorizationManager)
}

func (p *authzProxy) RetrieveEntityPermissions(ctx *simulator.Context, req *types.RetrieveEntityPermissions) soap.HasFault {
	m := p.sim.esxAccounts()
	var out soap.HasFault
	ctx.WithLock(m, func() { out = p.retrieveEntityPermissions(m, req) })
	return out
}

func (p *authzProxy) retrieveEntityPermissions(m *LocalAccountManager, req *types.RetrieveEntityPermissions) soap.HasFault {
	if req.Entity != m.root {
		req.This = realRef(req.This)
		return p.lib(req.This).RetrieveEntityPermissions(req)
	}
	return &methods.RetrieveEntityPermissionsBody{Res: &types.RetrieveEntityPermissionsResponse{
		Returnval: append([]types.Permission(nil), m.perms...)}}
}

func (p *authzProxy) RetrieveAllPermissions(ctx *simulator.Context, req *types.RetrieveAllPermissions) soap.HasFault {
	m := p.sim.esxAccounts()
	var out soap.HasFault
	ctx.WithLock(m, func() { out = p.retrieveAllPermissions(m, req) })
	return out
}

func (p *authzProxy) retrieveAllPermissions(m *LocalAccountManager, req *types.RetrieveAllPermissions) soap.HasFault {
	return &methods.RetrieveAllPermissionsBody{Res: &types.RetrieveAllPermissionsResponse{
		Returnval: append([]types.Permission(nil), m.perms...)}}
}

func (p *authzProxy) roleExists(this types.ManagedObjectReference, id int32) bool {
	for _, r := range p.lib(this).RoleList {
		if r.RoleId == id {
			return true
		}
	}
	return false
}

// SetEntityPermissions adds or replaces the given permissions (one per principal); the others stay.
func (p *authzProxy) SetEntityPermissions(ctx *simulator.Context, req *types.SetEntityPermissions) soap.HasFault {
	m := p.sim.esxAccounts()
	var out soap.HasFault
	ctx.WithLock(m, func() { out = p.setEntityPermissions(m, req) })
	return out
}

func (p *authzProxy) setEntityPermissions(m *LocalAccountManager, req *types.SetEntityPermissions) soap.HasFault {
	if req.Entity != m.root {
		req.This = realRef(req.This)
		return p.lib(req.This).SetEntityPermissions(req)
	}
	perms := append([]types.Permission(nil), m.perms...)
	for i, np := range req.Permission {
		if !np.Group && m.users[np.Principal] == nil {
			return &methods.SetEntityPermissionsBody{Fault_: fault("", &types.UserNotFound{Principal: np.Principal})}
		}
		if !p.roleExists(req.This, np.RoleId) {
			return &methods.SetEntityPermissionsBody{Fault_: fault(fmt.Sprintf("permission[%d].roleId %d", i, np.RoleId), &types.NotFound{})}
		}
		entity := m.root
		np.Entity = &entity
		replaced := false
		for j := range perms {
			if perms[j].Principal == np.Principal && perms[j].Group == np.Group {
				perms[j], replaced = np, true
			}
		}
		if !replaced {
			perms = append(perms, np)
		}
	}
	if !hasAdmin(perms) {
		return &methods.SetEntityPermissionsBody{Fault_: fault("", &types.AuthMinimumAdminPermission{})}
	}
	m.perms = perms
	return &methods.SetEntityPermissionsBody{Res: &types.SetEntityPermissionsResponse{}}
}

func (p *authzProxy) RemoveEntityPermission(ctx *simulator.Context, req *types.RemoveEntityPermission) soap.HasFault {
	m := p.sim.esxAccounts()
	var out soap.HasFault
	ctx.WithLock(m, func() { out = p.removeEntityPermission(m, req) })
	return out
}

func (p *authzProxy) removeEntityPermission(m *LocalAccountManager, req *types.RemoveEntityPermission) soap.HasFault {
	if req.Entity != m.root {
		req.This = realRef(req.This)
		return p.lib(req.This).RemoveEntityPermission(req)
	}
	var keep []types.Permission
	found := false
	for _, pm := range m.perms {
		if pm.Principal == req.User && pm.Group == req.IsGroup {
			found = true
			continue
		}
		keep = append(keep, pm)
	}
	if !found {
		return &methods.RemoveEntityPermissionBody{Fault_: fault("", &types.NotFound{})}
	}
	if !hasAdmin(keep) {
		return &methods.RemoveEntityPermissionBody{Fault_: fault("", &types.AuthMinimumAdminPermission{})}
	}
	m.perms = keep
	return &methods.RemoveEntityPermissionBody{Res: &types.RemoveEntityPermissionResponse{}}
}
