package main

import (
	"fmt"
	"regexp"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// DateTimeSystem is a per-host HostDateTimeSystem: NTP servers and time zone (UTC only), mirrored into
// host.config.dateTimeInfo.
type DateTimeSystem struct {
	mo.HostDateTimeSystem
	host *simulator.HostSystem
}

func newDateTimeSystem(h *simulator.HostSystem) *DateTimeSystem {
	d := &DateTimeSystem{host: h}
	d.Self.Type = "HostDateTimeSystem"
	d.DateTimeInfo = types.HostDateTimeInfo{
		TimeZone:            types.HostDateTimeSystemTimeZone{Key: "UTC", Name: "UTC", Description: "UTC", GmtOffset: 0},
		SystemClockProtocol: "ntp",
		NtpConfig:           &types.HostNtpConfig{},
	}
	return d
}

var ntpServerName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.:\-]*[A-Za-z0-9])?$`)

// UpdateDateTimeConfig sets the NTP servers (each a host name or address) and the time zone (UTC only).
func (d *DateTimeSystem) UpdateDateTimeConfig(ctx *simulator.Context, req *types.UpdateDateTimeConfig) soap.HasFault {
	cfg := req.Config
	if cfg.TimeZone != "" && cfg.TimeZone != "UTC" {
		return &methods.UpdateDateTimeConfigBody{Fault_: invalidArgument("config.timeZone",
			fmt.Sprintf("time zone %q (ESXi runs in UTC)", cfg.TimeZone))}
	}
	if cfg.NtpConfig == nil {
		return &methods.UpdateDateTimeConfigBody{Res: &types.UpdateDateTimeConfigResponse{}}
	}
	for i, s := range cfg.NtpConfig.Server {
		if !ntpServerName.MatchString(s) {
			return &methods.UpdateDateTimeConfigBody{Fault_: invalidArgument(
				fmt.Sprintf("config.ntpConfig.server[%d]", i), fmt.Sprintf("%q is not a host name or address", s))}
		}
	}
	ntp := &types.HostNtpConfig{Server: append([]string(nil), cfg.NtpConfig.Server...),
		ConfigFile: append([]string(nil), cfg.NtpConfig.ConfigFile...)}
	if sameXML(ntp, d.DateTimeInfo.NtpConfig) {
		return &methods.UpdateDateTimeConfigBody{Res: &types.UpdateDateTimeConfigResponse{}}
	}
	publish(ctx, d, change("dateTimeInfo.ntpConfig", *ntp))
	cp := *ntp
	publish(ctx, d.host, change("config.dateTimeInfo.ntpConfig", cp))
	return &methods.UpdateDateTimeConfigBody{Res: &types.UpdateDateTimeConfigResponse{}}
}

func (d *DateTimeSystem) QueryDateTime(ctx *simulator.Context, req *types.QueryDateTime) soap.HasFault {
	return &methods.QueryDateTimeBody{Res: &types.QueryDateTimeResponse{Returnval: time.Now().UTC()}}
}

func (d *DateTimeSystem) UpdateDateTime(ctx *simulator.Context, req *types.UpdateDateTime) soap.HasFault {
	return &methods.UpdateDateTimeBody{Res: &types.UpdateDateTimeResponse{}} // the clock is the real one
}

func (d *DateTimeSystem) RefreshDateTimeSystem(ctx *simulator.Context, req *types.RefreshDateTimeSystem) soap.HasFault {
	return &methods.RefreshDateTimeSystemBody{Res: &types.RefreshDateTimeSystemResponse{}}
}

func (d *DateTimeSystem) QueryAvailableTimeZones(ctx *simulator.Context, req *types.QueryAvailableTimeZones) soap.HasFault {
	return &methods.QueryAvailableTimeZonesBody{Res: &types.QueryAvailableTimeZonesResponse{
		Returnval: []types.HostDateTimeSystemTimeZone{d.DateTimeInfo.TimeZone}}}
}
