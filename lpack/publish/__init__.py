"""Publishing: layer zips to S3 and PublishLayerVersion."""
