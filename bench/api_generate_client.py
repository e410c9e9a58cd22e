#!/usr/bin/python3
"""The Python side of bench/api_generate: the same load as the C++ client, sent the way the
published Takeoff Python client (takeoff_client, httpx version) sends it.

As that client does: one httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None)) with httpx's
default pool limits, POST {url}/generate with its 14-key JSON body (every optional field present,
null when unset, consumer_group "primary"), response.json()["text"] read. What it adds for the
benchmark: the SPCS ingress credential (Authorization: Snowflake Token="...", read from a file so
that it never appears in a command line), the test CA as `verify`, and `concurrency` requests in
flight at once (asyncio tasks behind a semaphore).

Prints one JSON object on stdout: {"count": requests, "seconds": wall time, "errors": failures}.
`--check` only checks that httpx can be imported. Exits 2 when it cannot (install python3-httpx).

Run by build/release/bench/bench_api_generate (with /usr/bin/python3), not by hand.
"""

import argparse
import asyncio
import json
import sys
import time

try:
    import httpx
except ImportError:
    print(
        "api_generate_client.py: this Python cannot import httpx; install it "
        "(Debian: apt-get install python3-httpx) and run again",
        file=sys.stderr,
    )
    sys.exit(2)


def generate_body(prompt, max_new_tokens):
    """The body takeoff_client's generate() sends: 14 keys, the unset ones null."""
    return {
        "text": prompt,
        "sampling_temperature": None,
        "sampling_topp": None,
        "sampling_topk": None,
        "repetition_penalty": None,
        "no_repeat_ngram_size": None,
        "max_new_tokens": max_new_tokens,
        "min_new_tokens": None,
        "regex_string": None,
        "json_schema": None,
        "prompt_max_tokens": None,
        "consumer_group": "primary",
        "constrained_decoding_backend": None,
        "return_metadata": None,
    }


async def run(args):
    with open(args.token_file, encoding="utf-8") as f:
        token = f.read().strip()
    headers = {"Authorization": f'Snowflake Token="{token}"'}
    url = args.url + "/generate"
    semaphore = asyncio.Semaphore(args.concurrency)
    errors = 0
    first_error = None

    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None), verify=args.ca_file) as client:

        async def one(i):
            nonlocal errors, first_error
            async with semaphore:
                try:
                    response = await client.post(
                        url, json=generate_body(f"prompt {i}", args.max_new_tokens), headers=headers
                    )
                    if response.status_code != 200:
                        raise RuntimeError(f"status {response.status_code}")
                    text = response.json()["text"]
                    if not isinstance(text, str) or not text:
                        raise RuntimeError("no text in the reply")
                except Exception as e:  # every failure is counted, the first one shown
                    errors += 1
                    if first_error is None:
                        first_error = repr(e)

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(args.count)))
        seconds = time.perf_counter() - start

    if first_error is not None:
        print(f"api_generate_client.py: {errors} requests failed, the first: {first_error}", file=sys.stderr)
    return {"count": args.count, "seconds": seconds, "errors": errors}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that httpx can be imported")
    parser.add_argument("--url", help="the inference base URL, https://127.0.0.1:<port>")
    parser.add_argument("--ca-file", help="the CA certificate to trust (PEM)")
    parser.add_argument("--token-file", help="a file holding the session token")
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    args = parser.parse_args()
    if args.check:
        return 0
    if not (args.url and args.ca_file and args.token_file):
        parser.error("--url, --ca-file and --token-file are required")
    print(json.dumps(asyncio.run(run(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
