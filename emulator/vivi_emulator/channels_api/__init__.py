"""The VIVI surface: ``/channelsApi/{channelId}/...`` routes, request models and body parsing."""
