-- Model endpoints rest encrypted, as the keys do (api_key_encrypted): a Fernet token under
-- NACHET_BLOB_PIPELINE_DECRYPTION_KEY, decrypted only to call the model. The endpoints
-- stored in clear before are encrypted by this migration's Python step
-- (0006_encrypt_endpoints.py), in the same transaction: no clear one is ever committed here.
ALTER TABLE model RENAME COLUMN endpoint TO endpoint_encrypted;
COMMENT ON COLUMN model.endpoint_encrypted IS
    'a Fernet token of the endpoint URL under NACHET_BLOB_PIPELINE_DECRYPTION_KEY, decrypted only at call time';
