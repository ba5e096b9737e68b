"""{% home_question car_id %}: the "Is Carport your home?" question about one of the person's own cars,
for pages other than the car's (an import's report), which know the car only by its id."""

from django import template

from cars_app.models import Car
from plugtrack_site.admin_scoping import sees_everything

from ..admin.cars import home_question_context

register = template.Library()


@register.inclusion_tag("admin/sessions_app/home_question.html", takes_context=True)
def home_question(context, car_id):
    request = context["request"]
    cars = Car.objects.filter(pk=car_id)
    if not sees_everything(request):
        cars = cars.filter(user=request.user)  # only the person's own cars
    car = cars.first()
    question = None if car is None else home_question_context(request, car)
    return {"question": question, "csrf_token": context.get("csrf_token")}
