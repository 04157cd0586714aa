"""Shapes of the pipeline status (for the OpenAPI schema)."""

from rest_framework import serializers


class QueueDepthSerializer(serializers.Serializer):
    name = serializers.CharField()
    waiting = serializers.IntegerField()
    in_flight = serializers.IntegerField()
    delayed = serializers.IntegerField()


class ConsumerLagSerializer(serializers.Serializer):
    consumer = serializers.CharField()
    pending_batches = serializers.IntegerField(help_text="Committed batches not handled yet.")
    pending_events = serializers.IntegerField()
    oldest_pending_seconds = serializers.FloatField(
        allow_null=True, help_text="Age of the oldest committed batch not handled yet."
    )
    watermark_updated_at = serializers.DateTimeField(allow_null=True)
    events_done = serializers.IntegerField()
    dead_batches = serializers.IntegerField(help_text="Dead batches not redriven yet.")


class QueuesSerializer(serializers.Serializer):
    main = QueueDepthSerializer(required=False)
    dead_letter = QueueDepthSerializer(required=False)
    error = serializers.CharField(
        required=False, help_text="Instead of the two queues, when SQS does not answer."
    )


class PipelineStatusSerializer(serializers.Serializer):
    queues = QueuesSerializer(
        help_text="`main` and `dead_letter`; only `error` when SQS does not answer."
    )
    consumers = ConsumerLagSerializer(many=True)
