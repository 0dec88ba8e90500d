"""Real network conditions, driven through the real CLI: TLS behind a throwaway CA
(trusted through SSL_CERT_FILE, SSL_CERT_DIR or a provider's ca_bundle; untrusted;
the wrong host name), proxies (credentials, NO_PROXY, socks5), and the four
network errors, for `status` and for `watch` alike. Every test starts from a
clean environment: the machine's SSL_CERT_FILE or proxies do not leak in."""

from __future__ import annotations

import json

import pytest

from conftest import FAST, TEST_KEY, assert_clean, clean_env, run_cli
from nettools import Proxy, Socks5Proxy, hashed_dir, ipv6_loopback, refused_port

trustme = pytest.importorskip("trustme")


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_pem(ca, tmp_path_factory):
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def _tls_simulator(ca, *names: str, host: str = "127.0.0.1"):
    from jobpoll.simulator import Simulator

    context = __import__("ssl").create_default_context(__import__("ssl").Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    sim = Simulator(seed=7)
    sim.start(host, ssl_context=context)
    return sim


@pytest.fixture(scope="module")
def tls_sim(ca):
    sim = _tls_simulator(ca, "127.0.0.1", "localhost")
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def wrong_name_sim(ca):
    sim = _tls_simulator(ca, "jobpoll-other.example")
    yield sim
    sim.stop()


def _env(tmp_path, base_url: str, **extra: str) -> dict[str, str]:
    env = clean_env(tmp_path)
    env.update(JOBPOLL_MUVI_BASE_URL=base_url, JOBPOLL_MUVI_API_KEY=TEST_KEY, **extra)
    return env


COMMANDS = {
    "status": lambda ref: ["status", "--json", ref],
    "watch": lambda ref: ["watch", "--json", *FAST, "--retries", "0", ref],
}


def _done(result, job_id: str) -> None:
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["state"] == "done"
    assert job_id in result.stdout
    assert_clean(result)


# ---- trust --------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_a_private_ca_is_trusted_through_ssl_cert_file(tls_sim, ca_pem, tmp_path, command):
    job = tls_sim.add_job("muvi", queued=0, running=0)
    result = run_cli(*COMMANDS[command](f"muvi:{job}"),
                     env=_env(tmp_path, tls_sim.base_url, SSL_CERT_FILE=str(ca_pem)))
    _done(result, job)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_private_ca_is_trusted_through_a_hashed_ssl_cert_dir(tls_sim, ca_pem, tmp_path, command):
    folder = hashed_dir(ca_pem, tmp_path / "certs")
    job = tls_sim.add_job("muvi", queued=0, running=0)
    result = run_cli(*COMMANDS[command](f"muvi:{job}"),
                     env=_env(tmp_path, tls_sim.base_url, SSL_CERT_DIR=str(folder)))
    _done(result, job)


@pytest.mark.parametrize("command", COMMANDS)
def test_an_untrusted_certificate_is_a_certificate_error(tls_sim, tmp_path, command):
    job = tls_sim.add_job("muvi", queued=0, running=0)
    result = run_cli(*COMMANDS[command](f"muvi:{job}"), env=_env(tmp_path, tls_sim.base_url))
    assert result.returncode == 6, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert "certificate not trusted" in line and "SSL_CERT_FILE" in line, line
    assert "time" not in line.replace("SSL_CERT", "")
    assert_clean(result)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_certificate_for_another_name_names_the_host(wrong_name_sim, ca_pem, tmp_path, command):
    job = wrong_name_sim.add_job("muvi", queued=0, running=0)
    result = run_cli(*COMMANDS[command](f"muvi:{job}"),
                     env=_env(tmp_path, wrong_name_sim.base_url, SSL_CERT_FILE=str(ca_pem)))
    assert result.returncode == 6, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert "certificate is not valid for the host '127.0.0.1'" in line, line
    assert_clean(result)


def test_a_providers_ca_bundle_serves_that_provider_only(tls_sim, ca_pem, tmp_path):
    """`ca_bundle` in one provider's table trusts the private CA for it, and only
    for it: Pictory on the same server still meets an untrusted certificate."""
    env = _env(tmp_path, tls_sim.base_url, JOBPOLL_PICTORY_BASE_URL=tls_sim.base_url,
               JOBPOLL_PICTORY_API_KEY=TEST_KEY)
    set_ = run_cli("config", "set", "muvi.ca_bundle", str(ca_pem), env=env)
    assert set_.returncode == 0, set_.stderr
    muvi = tls_sim.add_job("muvi", queued=0, running=0)
    pictory = tls_sim.add_job("pictory", queued=0, running=0)
    for command in ("status", "watch"):
        args = ["status", "--json"] if command == "status" else ["watch", "--json", *FAST, "--retries", "0"]
        result = run_cli(*args, f"muvi:{muvi}", f"pictory:{pictory}", env=env)
        assert result.returncode == 6, result.stderr
        assert muvi in result.stdout and pictory not in result.stdout
        assert f"pictory:{pictory}" in result.stderr and "certificate not trusted" in result.stderr
        assert "providers.pictory.ca_bundle" in result.stderr
    got = run_cli("config", "get", "muvi.ca_bundle", env=env)
    assert got.stdout.strip() == str(ca_pem.resolve())


def test_a_ca_bundle_that_is_not_a_certificate_file_is_refused(tmp_path):
    env = clean_env(tmp_path)
    bogus = tmp_path / "not-a-ca.pem"
    bogus.write_text("hello\n")
    result = run_cli("config", "set", "muvi.ca_bundle", str(bogus), env=env)
    assert result.returncode == 2
    assert "muvi.ca_bundle" in result.stderr and "PEM" in result.stderr


# ---- proxies ------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"])
def test_https_goes_through_a_proxy_with_credentials_that_never_sees_the_key(
        tls_sim, ca_pem, tmp_path, command, variable):
    proxy = Proxy("proxyuser", "s3cret")
    job = tls_sim.add_job("muvi", queued=0, running=0)
    env = _env(tmp_path, tls_sim.base_url, SSL_CERT_FILE=str(ca_pem),
               **{variable: proxy.url("proxyuser:s3cret")})
    result = run_cli(*COMMANDS[command](f"muvi:{job}"), env=env)
    _done(result, job)
    assert proxy.heads and all(h.startswith(f"CONNECT 127.0.0.1:{tls_sim.base_url.rsplit(':', 1)[1]} ".encode())
                               for h in proxy.heads)
    assert b"Proxy-Authorization: Basic " in proxy.heads[0]
    assert TEST_KEY.encode() not in proxy.raw and job.encode() not in proxy.raw  # all inside TLS
    assert_clean(result, TEST_KEY, "s3cret")
    proxy.close()


@pytest.mark.parametrize("command", COMMANDS)
def test_a_proxy_asking_for_credentials_is_said_so(tls_sim, ca_pem, tmp_path, command):
    proxy = Proxy("proxyuser", "s3cret")
    job = tls_sim.add_job("muvi", queued=0, running=0)
    env = _env(tmp_path, tls_sim.base_url, SSL_CERT_FILE=str(ca_pem), HTTPS_PROXY=proxy.url())
    result = run_cli(*COMMANDS[command](f"muvi:{job}"), env=env)
    assert result.returncode == 6, result.stderr
    assert "407" in result.stderr and "USER:PASSWORD" in result.stderr
    assert_clean(result)
    proxy.close()


def test_plain_http_goes_through_http_proxy_and_no_proxy_bypasses_it(sim, tmp_path):
    proxy = Proxy()
    job = sim.add_job("muvi", queued=0, running=0)
    env = _env(tmp_path, sim.base_url, HTTP_PROXY=proxy.url())
    result = run_cli("status", "--json", f"muvi:{job}", env=env)
    _done(result, job)
    assert proxy.heads[0].startswith(f"GET {sim.base_url}/v1/jobs/{job} ".encode())
    for no_proxy in ("NO_PROXY", "no_proxy"):
        proxy.heads.clear()
        env = _env(tmp_path, sim.base_url, HTTP_PROXY=proxy.url(), **{no_proxy: "localhost,127.0.0.1"})
        for command in COMMANDS:
            _done(run_cli(*COMMANDS[command](f"muvi:{job}"), env=env), job)
        assert proxy.heads == []
    proxy.close()


@pytest.mark.parametrize("command", COMMANDS)
def test_a_socks5_proxy_is_spoken_to_in_socks(tls_sim, ca_pem, tmp_path, command):
    proxy = Socks5Proxy()
    job = tls_sim.add_job("muvi", queued=0, running=0)
    env = _env(tmp_path, tls_sim.base_url, SSL_CERT_FILE=str(ca_pem),
               ALL_PROXY=f"socks5://127.0.0.1:{proxy.port}")
    result = run_cli(*COMMANDS[command](f"muvi:{job}"), env=env)
    _done(result, job)
    assert proxy.targets and proxy.targets[0][1] == int(tls_sim.base_url.rsplit(":", 1)[1])
    assert TEST_KEY.encode() not in proxy.raw
    proxy.close()


def test_a_proxy_url_of_an_unknown_scheme_is_a_usage_error(sim, tmp_path):
    job = sim.add_job("muvi", queued=0, running=0)
    env = _env(tmp_path, sim.base_url, HTTP_PROXY="ftp://user:hunter2@127.0.0.1:1")
    for command in COMMANDS:
        result = run_cli(*COMMANDS[command](f"muvi:{job}"), env=env)
        assert result.returncode == 2, result.stderr
        assert "unsupported scheme" in result.stderr and "hunter2" not in result.stderr
        assert_clean(result)


# ---- the four network errors ---------------------------------------------------------

TIME_WORDS = ("time", "Timeout")


@pytest.mark.parametrize("command", COMMANDS)
def test_connection_refused(tmp_path, command):
    result = run_cli(*COMMANDS[command]("muvi:job_abc123def456"),
                     env=_env(tmp_path, f"http://127.0.0.1:{refused_port()}"))
    assert result.returncode == 6, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert "connection refused" in line and not any(w in line for w in TIME_WORDS), line


@pytest.mark.parametrize("command", COMMANDS)
def test_a_name_that_does_not_resolve(tmp_path, command):
    result = run_cli(*COMMANDS[command]("muvi:job_abc123def456"),
                     env=_env(tmp_path, "https://jobpoll-test.invalid"))
    assert result.returncode == 6, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert "could not resolve the host name 'jobpoll-test.invalid'" in line, line
    assert not any(w in line for w in TIME_WORDS), line


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")
def test_an_ipv6_base_url(tmp_path):
    from jobpoll.simulator import Simulator

    sim6 = Simulator(seed=3)
    sim6.start("::1")
    try:
        job = sim6.add_job("muvi", queued=0, running=0)
        assert sim6.base_url.startswith("http://[::1]:")
        for command in COMMANDS:
            _done(run_cli(*COMMANDS[command](f"muvi:{job}"), env=_env(tmp_path, sim6.base_url)), job)
        hosts = {r["headers"].get("host") for r in sim6.requests()}
        assert hosts == {sim6.base_url.removeprefix("http://")}
    finally:
        sim6.stop()
