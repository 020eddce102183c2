"""lava 8.3.0's own `get_cli_connection`, for the differential test.

Usage: cli_connection.py CONN_ID REALM WORKDIR

Reads the connection from DynamoDB (`lava.<REALM>.connections`) and SSM as
lava does, through boto3 pointed at the test's moto server
(`AWS_ENDPOINT_URL`), writes lava's stand-in into WORKDIR and prints its
path; on lava's refusal prints `error: <lava's message>` and exits 3.
"""

import sys

import boto3
from lava.connection import get_cli_connection


def main():
    conn_id, realm, workdir = sys.argv[1:4]
    session = boto3.Session(region_name="us-east-1")
    try:
        print(get_cli_connection(conn_id, realm, workdir, aws_session=session))
    except Exception as e:  # lava's refusals are LavaError; its bugs are anything else
        print(f"error: {e}")
        sys.exit(3)


if __name__ == "__main__":
    main()
