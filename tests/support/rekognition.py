"""Realistic DetectLabels responses (shapes as documented for Rekognition, label version 3.0)."""
import copy


def label(name, confidence, parents=(), aliases=(), categories=(), instances=()):
    return {
        "Name": name, "Confidence": confidence,
        "Instances": [{"BoundingBox": {"Width": w, "Height": h, "Left": left, "Top": top}, "Confidence": c,
                       "DominantColors": []} for (left, top, w, h, c) in instances],
        "Parents": [{"Name": p} for p in parents],
        "Aliases": [{"Name": a} for a in aliases],
        "Categories": [{"Name": c} for c in categories],
    }


def response(*labels):
    return {"Labels": [copy.deepcopy(lab) for lab in labels], "LabelModelVersion": "3.0",
            "ResponseMetadata": {"HTTPStatusCode": 200}}


CAR = label("Car", 98.7, parents=["Vehicle", "Transportation"], aliases=["Automobile"],
            categories=["Vehicles and Automotive"], instances=[(0.1, 0.35, 0.5, 0.4, 98.7)])
WHEEL = label("Wheel", 91.2, parents=["Machine"], categories=["Vehicles and Automotive"],
              instances=[(0.12, 0.6, 0.1, 0.12, 91.2), (0.48, 0.61, 0.1, 0.12, 88.0)])
STREET = label("Street", 74.5, parents=["Road", "City", "Urban"], categories=["Buildings and Architecture"])
DOG = label("Dog", 96.1, parents=["Animal", "Canine", "Mammal", "Pet"], aliases=["Puppy"],
            categories=["Animals and Pets"], instances=[(0.2, 0.2, 0.5, 0.6, 96.1)])
GRASS = label("Grass", 88.3, parents=["Plant"], categories=["Plants and Flowers"])
PERSON = label("Person", 99.2, categories=["Person Description"], aliases=["Human"],
               instances=[(0.6, 0.1, 0.3, 0.8, 99.2)])
SPORTS_CAR = label("Sports Car", 90.4, parents=["Car", "Vehicle", "Transportation"],
                   categories=["Vehicles and Automotive"])

CAR_ON_STREET = response(CAR, WHEEL, STREET)
DOG_ON_GRASS = response(DOG, GRASS)
PERSON_WITH_DOG = response(PERSON, DOG, GRASS)
