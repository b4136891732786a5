from reconciler.didyoumean import closest, suggest


def test_did_you_mean_from_the_hosts_own_list():
    services = ["TSM", "TSM-SSH", "ntpd", "slpd"]
    assert closest("TSM-SHH", services) == "TSM-SSH"
    assert closest("UserVars.DcuiTimeout", ["UserVars.DcuiTimeOut", "UserVars.SuppressShellWarning"]) == \
        "UserVars.DcuiTimeOut"
    assert suggest("nothing-like-it", services) == ""
    assert suggest("TSM-SHH", services) == " (did you mean 'TSM-SSH'?)"
