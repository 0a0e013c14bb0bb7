"""The pinned moto server, with the one CloudFormation resource type it lacks that strata's stacks need.

moto 5.2.5's CloudFormation skips `AWS::SecretsManager::Secret` (it warns "not supported by moto's
CloudFormation implementation", creates no secret and drops every output that refers to it; see
tests/support/MOTO_NOTES.md section 4). Real CloudFormation creates the secret, generating its value
from `GenerateSecretString`, and `Ref` of the resource returns the secret's ARN (CloudFormation
reference, AWS::SecretsManager::Secret, Return values). Without it a stack that receives the database secret's
ARN as a parameter (the feed API) could not be applied on the emulator at all.

This registers a CloudFormation model for that type on moto's own Secrets Manager backend, then runs
moto's server unchanged. The model only does what the reference documents; it validates nothing, so
it can never make the emulator accept something AWS refuses that moto would otherwise reject.
`AWS::SecretsManager::SecretTargetAttachment` stays unsupported (the alignment step in
tests/support/align.rs does what it would). Used by the tests (tests/support/moto.rs) and by
scripts/demo.sh, in place of the venv's `moto_server` entry point, with the same arguments.
"""

import json
import sys

from moto.core.common_models import CloudFormationModel
from moto.secretsmanager.models import secretsmanager_backends
from moto.server import main


class CloudFormationSecret(CloudFormationModel):
    """An `AWS::SecretsManager::Secret` created by a stack, backed by moto's Secrets Manager."""

    # moto's model metaclass files every model under the service its module is named after.
    __module__ = "moto.secretsmanager.models"

    def __init__(self, arn, name):
        self.arn = arn
        self.name = name

    @staticmethod
    def cloudformation_name_type():
        return "Name"

    @staticmethod
    def cloudformation_type():
        return "AWS::SecretsManager::Secret"

    @classmethod
    def has_cfn_attr(cls, attr):
        # Return values: `Id` (the ARN), besides `Ref`.
        return attr == "Id"

    def get_cfn_attribute(self, attribute_name):
        return self.arn

    @property
    def physical_resource_id(self):
        return self.arn

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        properties = cloudformation_json.get("Properties", {})
        backend = secretsmanager_backends[account_id][region_name]
        value = properties.get("SecretString")
        generate = properties.get("GenerateSecretString")
        if value is None and generate is not None:
            # GenerateSecretString: the generated password goes into the SecretStringTemplate
            # document under GenerateStringKey; without a template the secret is the password.
            password = json.loads(
                backend.get_random_password(
                    password_length=int(generate.get("PasswordLength", 32)),
                    exclude_characters=generate.get("ExcludeCharacters", ""),
                    exclude_numbers=bool(generate.get("ExcludeNumbers", False)),
                    exclude_punctuation=bool(generate.get("ExcludePunctuation", False)),
                    exclude_uppercase=bool(generate.get("ExcludeUppercase", False)),
                    exclude_lowercase=bool(generate.get("ExcludeLowercase", False)),
                    include_space=bool(generate.get("IncludeSpace", False)),
                    require_each_included_type=bool(
                        generate.get("RequireEachIncludedType", True)
                    ),
                )
            )["RandomPassword"]
            template = generate.get("SecretStringTemplate")
            if template is None:
                value = password
            else:
                document = json.loads(template)
                document[generate["GenerateStringKey"]] = password
                value = json.dumps(document)
        created = json.loads(
            backend.create_secret(
                name=resource_name,
                secret_string=value,
                secret_binary=None,
                description=properties.get("Description"),
                tags=properties.get("Tags") or [],
                kms_key_id=properties.get("KmsKeyId"),
                client_request_token=None,
                replica_regions=[],
                force_overwrite=False,
            )
        )
        return cls(created["ARN"], resource_name)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource,
        new_resource_name,
        cloudformation_json,
        account_id,
        region_name,
    ):
        # Description and KmsKeyId update in place, and an update never regenerates the value.
        properties = cloudformation_json.get("Properties", {})
        secret = secretsmanager_backends[account_id][region_name].describe_secret(
            original_resource.arn
        )
        secret.description = properties.get("Description")
        secret.kms_key_id = properties.get("KmsKeyId")
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name
    ):
        cls.delete_secret(resource_name, account_id, region_name)

    def delete(self, account_id, region_name):
        self.delete_secret(self.arn, account_id, region_name)

    @staticmethod
    def delete_secret(secret_id, account_id, region_name):
        secretsmanager_backends[account_id][region_name].delete_secret(
            secret_id=secret_id,
            recovery_window_in_days=None,
            force_delete_without_recovery=True,
        )

    def is_created(self):
        return True


if __name__ == "__main__":
    sys.exit(main())
