"""Provider module placeholder: filled in by its own work item."""
