"""Run a moto server on a free loopback port for the component tests.

Usage: launch.py SEED.json

Starts moto, seeds it from SEED.json through boto3 (KMS aliases, SecureString
parameters, IAM roles, Secrets Manager secrets, Redshift clusters, DynamoDB
tables with items), prints `ready <port>`, then
serves until its standard input closes -- which happens when the test process
that started it exits, however it exits, so no server is ever left behind.
"""

import json
import sys
from decimal import Decimal

import boto3
from moto.server import ThreadedMotoServer

TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}],
})


def seed(endpoint, spec):
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    client = lambda name: session.client(name, endpoint_url=endpoint)
    kms = client("kms")
    for alias in spec.get("kms_aliases", []):
        key = kms.create_key(Description=alias)["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=alias, TargetKeyId=key)
    ssm = client("ssm")
    for p in spec.get("parameters", []):
        args = {"Name": p["name"], "Value": p["value"], "Type": p.get("type", "SecureString"), "Overwrite": True}
        if "key" in p:
            args["KeyId"] = p["key"]
        ssm.put_parameter(**args)
    iam = client("iam")
    for role in spec.get("roles", []):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST, MaxSessionDuration=43200)
    secrets = client("secretsmanager")
    for secret in spec.get("secrets", []):
        if "binary" in secret:
            secrets.create_secret(Name=secret["name"], SecretBinary=secret["binary"].encode())
        else:
            secrets.create_secret(Name=secret["name"], SecretString=secret["value"])
    redshift = client("redshift")
    for cluster in spec.get("clusters", []):
        redshift.create_cluster(
            ClusterIdentifier=cluster, NodeType="dc2.large", MasterUsername="admin",
            MasterUserPassword="Admin-password-1", DBName="dev",
        )
    dynamodb = session.resource("dynamodb", endpoint_url=endpoint)
    for table in spec.get("tables", []):
        t = dynamodb.create_table(
            TableName=table["name"],
            KeySchema=[{"AttributeName": "conn_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "conn_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for item in table.get("items", []):
            t.put_item(Item=json.loads(json.dumps(item), parse_float=Decimal))


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    seed(f"http://{host}:{port}", spec)
    print(f"ready {port}", flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
